"""Text for people: what reports, errors and notes print."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import HarnessError

Model = TypeVar("Model", bound=BaseModel)


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


def read_model(path: Path, model: type[Model], what: str) -> Model:
    """A YAML file of the harness's (`what`: "the matrix file", ...) as its model; one line on what is wrong."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise HarnessError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise HarnessError(f"{path} is not valid YAML: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise HarnessError(f"{path}: {validation_problem(exc)}") from exc
