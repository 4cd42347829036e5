"""Integration tests need a Docker engine and a Kubespray clone; without either they skip, saying which.

`make test` runs them in two lanes: see tests/conftest.py.
"""

from __future__ import annotations

import pytest

from harness import provider
from harness.errors import HarnessError
from harness.kubespray import source
from harness.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def docker_engine():
    try:
        return provider.connect()
    except HarnessError as exc:
        pytest.skip(f"no Docker engine: {exc.message}")


@pytest.fixture(scope="session")
def kubespray_clone(settings: Settings):
    try:
        return source.ensure_clone(settings)
    except HarnessError as exc:
        pytest.skip(f"no Kubespray clone: {exc.message} (see README: using a local Kubespray clone)")
