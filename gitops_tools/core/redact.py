"""Keeping credentials out of what is printed: the one masking of every command's output, and the Basic
authentication form a password takes on the wire (which has to be masked too). Pure."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def basic(user: str, password: str) -> str:
    """The base64 ``user:password`` of an ``Authorization: Basic`` header."""
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def mask(text: str, secrets: Sequence[str] = ()) -> str:
    """Hide credentials in URLs (``https://user:token@host`` → ``https://***@host``) and known secret values."""
    out = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out
