"""The words of configuration errors: quoting a value, "did you mean", key paths.  Pure; shared by the model and
the loader so that every message quotes and suggests the same way."""

from __future__ import annotations

import re
from collections.abc import Sequence

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def quote(value: str) -> str:
    """A string in double quotes, with escapes for quotes, backslashes and control characters (as JSON does)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = CONTROL_RE.sub(lambda m: _ESCAPES.get(m.group(), f"\\u{ord(m.group()):04x}"), escaped)
    return f'"{escaped}"'


def close_match(word: str, choices: Sequence[str]) -> str | None:
    """The allowed word closest to a misspelt one, for "did you mean"; difflib is imported only when needed."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return close[0] if close else None


def suggest(word: str | None, choices: Sequence[str], label: str) -> str:
    """The fix for an unknown word: ``did you mean "prod"? environments: dev, prod`` (no guess for None)."""
    listing = f"{label}: {', '.join(choices)}"
    close = close_match(word, choices) if word is not None else None
    return f"did you mean {quote(close)}? {listing}" if close is not None else listing


def join(path: str, key: str) -> str:
    """The key path of ``key`` below ``path`` (``commit`` + ``sign`` -> ``commit.sign``; at the top, ``key``)."""
    return f"{path}.{key}" if path else key


def key_text(key: object) -> str:
    """A mapping key as it reads in a key path (YAML's ``true``, not Python's ``True``)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)
