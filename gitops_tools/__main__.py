"""``python -m gitops_tools`` and the ``gitops-tools`` command: the process the command line runs in."""

from __future__ import annotations

from typing import NoReturn


def run() -> NoReturn:
    """The command's own process: Python's cycle collector is switched off before the command line is even
    imported (see :func:`gitops_tools.cli._no_cycle_collector`: the imports alone are a fifth of a ``status``),
    then :func:`gitops_tools.cli.main` runs and exits."""
    import gc

    gc.disable()
    from gitops_tools.cli import main

    main()


if __name__ == "__main__":
    run()
