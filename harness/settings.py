"""Settings from the environment, with defaults that work on a fresh machine."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import subnets
from harness.errors import HarnessError

UPSTREAM_KUBESPRAY = "https://github.com/kubernetes-sigs/kubespray.git"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IMAGE_REPOSITORY = "kubespray-harness"


def _default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "kubespray-harness"


@dataclass(frozen=True)
class Settings:
    kubespray_repo: str
    cache_dir: Path
    runs_dir: Path
    base_image_source: str  # auto | registry | debootstrap
    debian_mirror: str  # empty: debootstrap's own default
    keep_worktree: bool
    # A stranger's report runs sealed: its containers reach nothing but each other, unless
    # allow_egress (--allow-egress) or its scenario says it needs egress.
    sealed: bool = False
    allow_egress: bool = False
    # Where scenario folders live; `harness repro` points it at the folder it writes.
    scenarios_dir: Path = PROJECT_ROOT / "scenarios"
    # The longest a Molecule action (create, converge with every Kubespray step, verify) may run.
    action_timeout: float = 3600.0
    # Where runs' networks take their /24 (harness.subnets).
    subnet_pool: ipaddress.IPv4Network = subnets.DEFAULT_NETWORK
    # An upgrade across releases boots a saved deploy of its old release when one is there
    # (harness.deploys); off: every run deploys afresh (--no-reuse).
    reuse_deploys: bool = True
    # The repository the harness's images are tagged in; `harness bench --cold` builds them
    # anew in a throwaway one.
    image_repository: str = DEFAULT_IMAGE_REPOSITORY

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        if env.get("HARNESS_CONNECTION", "ssh") != "ssh":
            raise HarnessError(
                "HARNESS_CONNECTION is gone: Kubespray's Ansible runs in the run's controller container, "
                "which reaches the nodes over SSH only; unset it"
            )
        return cls(
            kubespray_repo=env.get("KUBESPRAY_REPO") or UPSTREAM_KUBESPRAY,
            cache_dir=Path(env.get("HARNESS_CACHE_DIR") or _default_cache_dir()),
            runs_dir=Path(env.get("HARNESS_RUNS_DIR") or PROJECT_ROOT / "runs"),
            base_image_source=env.get("HARNESS_BASE_IMAGE_SOURCE") or "auto",
            debian_mirror=env.get("HARNESS_DEBIAN_MIRROR", ""),
            keep_worktree=env.get("HARNESS_KEEP_WORKTREE", "") not in ("", "0", "false"),
            allow_egress=env.get("HARNESS_ALLOW_EGRESS", "") not in ("", "0", "false"),
            scenarios_dir=Path(env.get("HARNESS_SCENARIOS_DIR") or PROJECT_ROOT / "scenarios").resolve(),
            action_timeout=_seconds(env, "HARNESS_ACTION_TIMEOUT", 3600.0),
            subnet_pool=subnets.parse_pool(env.get("HARNESS_SUBNET_POOL") or subnets.DEFAULT_POOL),
            reuse_deploys=env.get("HARNESS_REUSE_DEPLOYS", "") not in ("0", "false", "no"),
            image_repository=_image_repository(env.get("HARNESS_IMAGE_REPOSITORY") or DEFAULT_IMAGE_REPOSITORY),
        )

    @property
    def images_dir(self) -> Path:
        return PROJECT_ROOT / "images"

    def new_run_path(self, *names: str) -> Path:
        """`<runs>/<time>-<names...>`: run directories sort by when they started."""
        return self.runs_dir / "-".join([time.strftime("%Y%m%d-%H%M%S"), *names])

    def make_run_dir(self, *names: str) -> Path:
        """A new directory `new_run_path(names)` of its own (made, absolute), suffixed `-2`,
        `-3`, ... when the same names start twice in one second (corpus replays side by side)."""
        first = self.new_run_path(*names)
        for directory in [first, *(first.with_name(f"{first.name}-{n}") for n in range(2, 100))]:
            try:
                directory.mkdir(parents=True)
            except FileExistsError:
                continue
            return directory.resolve()
        raise HarnessError(f"cannot make a new run directory beside {first}: remove old runs from {self.runs_dir}")


def _image_repository(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9]+([._-][a-z0-9]+)*", name):
        raise HarnessError(
            f"HARNESS_IMAGE_REPOSITORY={name!r}: give lower-case letters and digits, '.', '_' or '-' between them"
        )
    return name


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    text = env.get(name, "")
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise HarnessError(f"{name}={text!r}: give a number of seconds above 0 (default {default:.0f})")
    return value


def environ_without_ansible_settings() -> dict[str, str]:
    """This process's environment without ANSIBLE_* and MOLECULE_* variables: Molecule's own
    Ansible settings (or a user's) must not leak into another Ansible run."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_"))}


@contextmanager
def cache_lock(settings: Settings, name: str) -> Iterator[None]:
    """Hold `<cache>/<name>.lock`: processes sharing the cache (parallel runs, test lanes)
    build a thing once, the others wait for it."""
    with file_lock(settings.cache_dir / f"{name}.lock"):
        yield


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (made, with its folder, if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
