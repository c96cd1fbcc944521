"""Error types and the one place where they become exit codes.

Every expected failure is a :class:`GitopsError` (or a subclass) whose message names the file, the key path,
the problem and, where there is one, the fix.  The CLI prints it and exits with :func:`exit_code_for`; anything
else is a bug and exits 3.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNEXPECTED = 3
EXIT_PARTIAL = 4  # a command over many repositories (propagate) did some and failed for others
EXIT_TEMPFAIL = 75
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM: what a cancelled CI job receives


class GitopsError(Exception):
    """An expected error: bad input, a policy refusal, a conflict.  Exit 1."""

    exit_code = EXIT_ERROR

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        key: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.fix = fix

    @property
    def location(self) -> str | None:
        """``file[:line[:column]]`` (1-based), or None when the error is not about a file."""
        if self.file is None:
            return None
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    @property
    def headline(self) -> str:
        """``location: key: problem``, leaving out the parts that are unknown."""
        parts = [p for p in (self.location, self.key, self.problem) if p]
        return ": ".join(parts)

    def __str__(self) -> str:
        if self.fix:
            return f"{self.headline}\nhint: {self.fix}"
        return self.headline

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": type(self).__name__,
            "message": self.headline,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "key": self.key,
            "problem": self.problem,
            "fix": self.fix,
            "exit_code": self.exit_code,
        }


class UsageError(GitopsError):
    """The command line itself is wrong (unknown option, missing argument).  Exit 2."""

    exit_code = EXIT_USAGE


class TemporaryError(GitopsError):
    """Retrying later may work: network failure, retries used up.  Exit 75 (EX_TEMPFAIL)."""

    exit_code = EXIT_TEMPFAIL


class InvalidReference(GitopsError):
    """An image reference, name, tag or digest that the distribution grammar refuses."""


class YamlError(GitopsError):
    """A YAML file that cannot be parsed, or whose structure is not what the edit needs."""


class ConfigError(GitopsError):
    """``gitops-tools.yaml`` is invalid: unknown key, wrong type, bad value."""


class PolicyError(GitopsError):
    """A configured policy refuses the change."""


class ConflictError(GitopsError):
    """What is there is not what the plan expected."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (a cancelled CI job): handled like Ctrl-C, files restored, exit 143."""


def exit_code_for(exc: BaseException) -> int:
    """Map any exception to the documented exit code (README, "Exit codes")."""
    if isinstance(exc, GitopsError):
        return exc.exit_code
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_UNEXPECTED
