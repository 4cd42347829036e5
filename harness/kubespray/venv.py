"""Kubespray pins its own Ansible per ref: one venv per requirements.txt, cached by hash."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from harness.errors import CommandFailed
from harness.settings import Settings

# Refs from before about December 2024 use ansible.utils.validate, which needs
# jsonschema although their requirements.txt does not list it.
EXTRA_REQUIREMENTS = ["jsonschema==4.23.0"]
READY_MARKER = ".harness-ready"


def venv_key(requirements: bytes, python_version: str = "") -> str:
    python_version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    h = hashlib.sha256(requirements)
    h.update(("\n".join(EXTRA_REQUIREMENTS) + python_version).encode())
    return h.hexdigest()[:16]


def ensure_venv(settings: Settings, worktree: Path) -> Path:
    """The venv holding the Ansible that this Kubespray worktree pins."""
    requirements = worktree / "requirements.txt"
    venv = settings.cache_dir / "venvs" / venv_key(requirements.read_bytes())
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs of one ref build it once
        if not (venv / READY_MARKER).exists():
            shutil.rmtree(venv, ignore_errors=True)
            _build(venv, requirements)
            (venv / READY_MARKER).write_text(requirements.read_text())
    return venv


def _build(venv: Path, requirements: Path) -> None:
    uv = _uv()
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    _run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-r",
            str(requirements),
            *EXTRA_REQUIREMENTS,
        ]
    )


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CommandFailed("building Kubespray's Ansible venv", argv, proc.stdout + proc.stderr)
