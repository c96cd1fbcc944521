"""Pushing so that no update is lost: the one retry loop of every command that pushes.

A push rejected because another writer landed first (non-fast-forward, or a server-side ref-lock race) is
retried: what this attempt committed is taken back, the caller's ``again`` fetches, resets and applies the same
semantic change to the new state, and pushes that; with exponential backoff and full jitter, bounded by a number
of attempts and a deadline (then exit 75). A refusal for good (hook, protection, credentials) is exit 1 with
git's reason; a network failure is exit 75. Ctrl-C or SIGTERM during a push takes back what was committed. The
target branch is never force-pushed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from gitops_tools.errors import GitopsError, TemporaryError
from gitops_tools.git.refusals import RETRY, Backoff
from gitops_tools.git.repo import Git, PushRejected
from gitops_tools.interrupts import held

T = TypeVar("T")


class Clock(NamedTuple):
    """Time as the retry loop sees it; tests pass their own."""

    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    now: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class Pending(Generic[T]):
    """What one attempt committed and wants pushed: the command's value for it, the refspecs, and how to take
    the commit (and tags) back if it does not land; ``undo`` returns what to add to a message."""

    value: T
    refspecs: tuple[str, ...]
    undo: Callable[[], str]
    what: str = ""  # how messages name this push ("push of v1.3.0"); default: the loop's own


@dataclass(frozen=True)
class Pushed(Generic[T]):
    value: T  # the value of the attempt that landed, or of the one that found nothing left to push
    attempts: int
    pushed: bool  # False: fresh remote state left nothing to push (another writer landed the same change)


def push_with_retry(git: Git, first: Pending[T], again: Callable[[T], Pending[T] | T], *, what: str,
                    atomic: bool = False, backoff: Backoff = Backoff(), clock: Clock = Clock(),
                    fix_final: str = "the remote refused it for good (hook, protection or credentials)",
                    ) -> Pushed[T]:
    """Push ``first``; on a retryable rejection undo it, call ``again(value)`` (fetch, reset, re-apply: a new
    :class:`Pending`, or a plain value when nothing is left to push) and push that, until it lands."""
    start = clock.now()
    attempt = 1
    pending = first
    while True:
        try:
            git.network("push", "--quiet", *(["--atomic"] if atomic else []), "origin", *pending.refspecs)
            return Pushed(pending.value, attempt, True)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM while pushing: keep nothing that may not have landed
            with held():
                pending.undo()
            raise
        except PushRejected as err:
            if err.kind != RETRY:
                name = pending.what or what
                raise git.refusal(err, f"{name} failed", fix_final, pending.undo(), final=f"{name} rejected") from None
        if attempt >= backoff.attempts or clock.now() - start > backoff.deadline:
            raise TemporaryError(
                f"{pending.what or what} still rejected after {attempt} attempts in {clock.now() - start:.1f}s "
                "(others keep pushing)", fix="retry later (exit 75)" + pending.undo())
        clock.sleep(backoff.delay(attempt, clock.rand))
        attempt += 1
        # Our commit goes first, so that whatever fails below (the network, a remote rewritten under us) leaves
        # none behind.
        undone = pending.undo()
        try:
            nxt = again(pending.value)
        except GitopsError as err:
            err.fix = (err.fix or "see git's message above") + undone
            raise
        if not isinstance(nxt, Pending):
            return Pushed(nxt, attempt, False)
        pending = nxt


