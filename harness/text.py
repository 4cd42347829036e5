"""Text for people: what reports, errors and notes print."""

from __future__ import annotations

from pydantic import ValidationError


def one_line(text: str, limit: int = 400) -> str:
    """The text on one line, whitespace folded, cut at `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def first_line(text: str) -> str:
    """The first line of the text that holds something other than whitespace ("" if none), as it is."""
    return next((line for line in text.splitlines() if line.strip()), "")


def validation_problem(exc: ValidationError) -> str:
    """A file's first problem as pydantic found it: `where.in.the.file: what is wrong`."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
