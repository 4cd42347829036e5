"""Kubespray pins its own Ansible per ref (requirements.txt): installed for the controller's
Python into a folder that becomes a layer of the controller image (harness.images)."""

from __future__ import annotations

import hashlib
import platform
import re
import subprocess
from pathlib import Path

from harness.errors import CommandFailed

# Refs from before about December 2024 use ansible.utils.validate, which needs
# jsonschema although their requirements.txt does not list it.
EXTRA_REQUIREMENTS = ["jsonschema==4.23.0"]
# The controller image is built for this machine's architecture, glibc-based (Debian 12's 2.36).
PLATFORM = f"{platform.machine()}-manylinux_2_28"


def install_key(requirements: bytes, python_version: str) -> str:
    """What decides the installed packages: the ref's pins, the harness's extras, the Python."""
    h = hashlib.sha256(requirements)
    h.update(("\n".join(EXTRA_REQUIREMENTS) + python_version).encode())
    return h.hexdigest()[:16]


def install_for(requirements: Path, target: Path, python_version: str) -> None:
    """Install what `requirements` pins, plus the extras, into `target` (packages at its top,
    scripts in `target/bin`) for another Python than this one: the controller image's."""
    argv = [
        _uv(),
        "pip",
        "install",
        "--quiet",
        "--target",
        str(target),
        "--python-version",
        python_version,
        "--python-platform",
        PLATFORM,
        "-r",
        str(requirements),
        *extras_for(requirements.read_text()),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CommandFailed("installing the Ansible that Kubespray pins", argv, proc.stdout + proc.stderr)


def extras_for(requirements: str) -> list[str]:
    """The extras the ref does not pin itself (a ref that pins jsonschema keeps its own)."""
    pinned = {re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower() for line in requirements.splitlines()}
    return [extra for extra in EXTRA_REQUIREMENTS if re.split(r"[<>=!~]", extra, maxsplit=1)[0].lower() not in pinned]


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()
