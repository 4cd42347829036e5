"""Errors the user can act on. Raised anywhere, caught once in the CLI."""

from __future__ import annotations

import re

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
        if is_disk_full(output):  # the machine's problem, not the command's: one line says what to do
            super().__init__(disk_full_message(what))
            return
        tail = "\n".join(output.strip().splitlines()[-15:])
        super().__init__(f"{what} failed: {' '.join(argv)}", log_tail=tail)


# How git, debootstrap, tar, uv and the Docker engine say that a disk is full.
_DISK_FULL = re.compile(r"no space left on device|\bENOSPC\b|disk quota exceeded", re.IGNORECASE)


def is_disk_full(output: str) -> bool:
    return bool(_DISK_FULL.search(output))


def disk_full_message(what: str) -> str:
    return (
        f"{what} failed: no space left on device; free some space, or point HARNESS_CACHE_DIR "
        "(and Docker's data-root for images) at a disk with room"
    )
