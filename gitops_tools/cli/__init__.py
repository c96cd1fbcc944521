"""The ``gitops-tools`` command line: parse arguments, call the public API (:mod:`gitops_tools.api`), print.

The only package that imports click. Errors become exit codes in one place, :func:`main` (README, "Exit
codes").
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from gitops_tools.cli.base import STATE, cli, report  # the commands' modules are imported on demand (COMMANDS)
from gitops_tools.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    GitopsError,
    Terminated,
    exit_code_for,
)

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the CLI and exit with the documented code: 0 ok, 1 expected error, 2 usage, 3 bug, 4 partly done, 75 retry,
    130 interrupted, 143 terminated."""
    if argv is None:  # the process is ours (the console script, python -m gitops_tools), not a caller's
        _no_cycle_collector()
    try:
        _run(argv)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if argv is not None or sys.getprofile() is not None or sys.gettrace() is not None:
            raise
        _leave(code)
    raise AssertionError("unreachable")  # pragma: no cover - _run always exits


def _no_cycle_collector() -> None:
    """Switch off Python's cycle collector for this process. A command lives a fraction of a second to a few
    minutes; the collector would walk every object its imports created, again each time parsing allocates a
    few thousand more (14 ms of a 100 ms ``status``). What the commands leave in cycles is a few hundred objects,
    whatever the size of the work (525 after ``status`` over 3,000 images and after ``history`` over 10,000
    commits); reference counting frees everything else as before. The console script switches it off sooner,
    before this module is imported (:func:`gitops_tools.__main__.run`). A caller of :func:`main` with arguments
    (a test, a program using the CLI in its own process) keeps its collector."""
    import gc

    gc.disable()


def _leave(code: int) -> NoReturn:
    """Exit the process now that everything was written and closed: the interpreter's own clean-up (tens of
    milliseconds of freeing objects that die with the process anyway) is skipped. Hundreds of CI jobs that land
    together all finish at once, on the same machines: this is part of their tail."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nobody reads it any more
            pass
    os._exit(code)


def _run(argv: list[str] | None) -> NoReturn:
    from gitops_tools.interrupts import raise_on_sigterm

    raise_on_sigterm()  # a cancelled CI job: the same clean-up as Ctrl-C
    try:
        cli.main(args=argv, prog_name="gitops-tools", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:  # click turns KeyboardInterrupt into Abort
        if isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated):
            click.echo("terminated (SIGTERM): files are as before, or as after a commit that landed", err=True)
            sys.exit(EXIT_TERMINATED)
        click.echo("interrupted: files are as before, or as after a commit that landed", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except GitopsError as exc:
        report(exc)
        sys.exit(exit_code_for(exc))
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the one catch-all: a bug, reported as such
        import traceback

        click.echo(f"error: unexpected {type(exc).__name__}: {exc}", err=True)
        click.echo("hint: this is a bug in gitops-tools; run with -v for the traceback and report it", err=True)
        if STATE["verbose"]:
            traceback.print_exc()
        sys.exit(EXIT_UNEXPECTED)
    sys.exit(0)
