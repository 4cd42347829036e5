"""Errors the user can act on. Raised anywhere, caught once in the CLI."""

from __future__ import annotations

EXIT_MISMATCH = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_EXERCISED = 3  # the only mismatch: an expected failure's task never ran where it was expected
EXIT_CANNOT_REPRODUCE_HERE = 4  # a repro stopped at what containers cannot run before the reported task


class HarnessError(Exception):
    """A problem with input or environment, with a message saying how to fix it."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.log_tail = log_tail


class CommandFailed(HarnessError):
    """An external command (git, uv, docker) failed; carries the tail of its output."""

    def __init__(self, what: str, argv: list[str], output: str) -> None:
        tail = "\n".join(output.strip().splitlines()[-15:])
        super().__init__(f"{what} failed: {' '.join(argv)}", log_tail=tail)
