"""The `harness` command's entry point: Molecule's lifecycle commands (harness.lifecycle) start
without importing the whole CLI; every other command goes to harness.cli."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from harness import lifecycle

    if argv and argv[0] in lifecycle.COMMANDS:
        return lifecycle.main(argv)
    from harness import cli

    return cli.main(argv)
