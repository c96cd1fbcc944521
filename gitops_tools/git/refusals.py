"""When a push fails: retry on fresh remote state, give up for good, or report a temporary failure.

DESIGN §3.7: a non-fast-forward rejection and the server-side ref-lock races that real concurrent pushes
produce are retried by re-applying the semantic change on the new remote state; a hook, branch protection or
authentication rejection is final and carries git's reason; network failures (and retries used up) are
temporary (exit 75) so that a CI job can be retried.

Pure: text and numbers in, decisions out (the random source and the clock are passed in).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

RETRY = "retry"  # fetch, reset to the remote branch, re-apply, commit, push again
FINAL = "final"  # rejected for a reason retrying cannot fix
TEMPORARY = "temporary"  # the remote could not be reached; a later run may work

_RETRY_PATTERNS = (
    r"\[rejected\].*\((fetch first|non-fast-forward)\)",
    r"Updates were rejected because the (remote|tip of your current branch)",
    r"cannot lock ref",
    r"failed to update ref",
    r"incorrect old value provided",
    r"\[remote rejected\].*\((failed to update ref|cannot lock ref|incorrect old value provided)",
    r"reference already exists",  # a racing creation of the same branch
    r"failed to lock",
)
_TEMPORARY_PATTERNS = (
    r"Could not resolve host",
    r"Connection refused",
    r"Connection (reset|timed out)",
    r"Failed to connect",
    r"Operation timed out",
    r"unable to access",
    r"does not appear to be a git repository",
    r"Could not read from remote repository",
    r"The remote end hung up unexpectedly",
    r"early EOF",
    r"RPC failed",
    r"HTTP (429|500|502|503|504)",
    r"returned error: (429|5\d\d)",
    r"No such file or directory",
    r"not a git repository",
)
_FINAL_PATTERNS = (
    r"pre-receive hook declined",
    r"hook declined",
    r"protected branch",
    r"not allowed to (push|force push)",
    r"Authentication failed",
    r"HTTP Basic: Access denied",
    r"could not read Username",
    r"returned error: 40[13]",
    r"Permission denied",
    r"the receiving end does not support push options",
)


_AUTH_PATTERNS = (
    r"Authentication failed",
    r"HTTP Basic: Access denied",
    r"could not read Username",
    r"returned error: 40[13]",
    r"Permission denied",
    r"You are not allowed",
    r"not allowed to push",
    r"HTTP 40[13]",
)


def is_auth_failure(stderr: str) -> bool:
    """git's message says the credentials were refused (or missing, or not allowed to write)."""
    return any(re.search(p, stderr, re.IGNORECASE) for p in _AUTH_PATTERNS)


def classify_push_error(stderr: str) -> str:
    """RETRY, FINAL or TEMPORARY for a failed ``git push`` (or fetch), from git's own message."""
    for pattern in _FINAL_PATTERNS:
        if re.search(pattern, stderr, re.IGNORECASE):
            return FINAL
    for pattern in _RETRY_PATTERNS:
        if re.search(pattern, stderr, re.IGNORECASE):
            return RETRY
    for pattern in _TEMPORARY_PATTERNS:
        if re.search(pattern, stderr, re.IGNORECASE):
            return TEMPORARY
    return FINAL


def rejection_reason(stderr: str) -> str:
    """The lines of git's output that say why (``remote:`` lines from hooks, ``!`` and ``error:`` lines)."""
    lines = []
    for line in stderr.splitlines():
        text = line.strip()
        if not text or text.startswith(("To ", "hint:")):
            continue
        if text.startswith("remote:"):
            text = text[len("remote:"):].strip()
            if not text:
                continue
        lines.append(text)
    return "; ".join(lines) or "no reason given"


class Backoff(NamedTuple):
    """Exponential backoff with full jitter: sleep a random time in [0, min(cap, base * 2**attempt))."""

    base: float = 0.05
    cap: float = 2.0
    # Every rejection of this kind means another writer landed, so keep going while there is time: with 50
    # writers at once the last one needs about 50 attempts.  The deadline is what bounds a run.
    attempts: int = 200
    deadline: float = 300.0  # seconds from the first try: CI jobs run for minutes, not seconds

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        return float(rand() * min(self.cap, self.base * (2 ** attempt)))


def mr_branch(env: str, action: str, change_lines: Iterable[str]) -> str:
    """The deterministic branch of a merge request: the same change again goes to the same branch."""
    import hashlib  # loads OpenSSL (about 10 ms): only when a branch name is needed

    digest = hashlib.sha256("\n".join(sorted(change_lines)).encode()).hexdigest()[:12]
    return f"gitops/{env}/{action}-{digest}"
