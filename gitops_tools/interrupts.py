"""Ctrl-C (SIGINT) and a cancelled CI job (SIGTERM) never leave a half-applied change.

:func:`raise_on_sigterm` makes SIGTERM raise :class:`~gitops_tools.errors.Terminated` (a ``KeyboardInterrupt``),
so every ``finally`` and every "put the old bytes back" handler runs for it as for Ctrl-C.

:func:`held` holds both signals back while a short critical section runs (renaming several files into place,
or writing them and committing them): a signal that arrives meanwhile is raised when the section ends, so
the files are all as before or all as after, never a mix. Child processes (git) keep the default handling,
so a Ctrl-C in a terminal still stops a git command, which cleans up its own lock files; the section then
sees git's failure and restores what it wrote.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from gitops_tools.errors import Terminated

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def raise_on_sigterm() -> None:
    """SIGTERM raises :class:`Terminated` from now on (the CLI calls this once, at start)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back during the block; raise the first one that arrived when it ends.

    Outside the main thread (where Python cannot handle signals) the block simply runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, hold) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if received:
            # The handler in force again decides: KeyboardInterrupt, Terminated, or the default action.
            signal.raise_signal(received[0])
