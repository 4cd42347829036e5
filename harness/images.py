"""Node images, tagged by a digest of their inputs so a rebuild happens only on change.

Nodes: base (Debian 11 + systemd + python3) -> node (control planes, workers)
-> lb (the HAProxy load balancer). The controller, where Kubespray's Ansible runs:
controller-base (Debian 12 + python3 + ssh) -> controller:<requirements digest>, one
per Ansible that a Kubespray ref pins. Each base comes from the registry's Debian image
where a registry answers, otherwise from debootstrap against Debian's mirror.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import provider
from harness.errors import CommandFailed, HarnessError
from harness.kubespray import venv
from harness.settings import DEFAULT_IMAGE_REPOSITORY, Settings, cache_lock

REPOSITORY = DEFAULT_IMAGE_REPOSITORY  # unless HARNESS_IMAGE_REPOSITORY says another
SOURCES = ("auto", "registry", "debootstrap")
CURRENT = "current"


@dataclass(frozen=True)
class Base:
    """A Debian base image: its folder under images/ (packages.txt, a Dockerfile for the
    registry recipe), the Debian suite and the command it starts with."""

    name: str
    suite: str
    command: str

    @property
    def registry_image(self) -> str:
        return f"debian:{self.suite}"


# Kubespray's nodes run Debian 11, as in the field reports.
NODE_BASE = Base("base", "bullseye", '["/lib/systemd/systemd"]')
# The controller runs the Ansible a ref pins: ansible-core 2.16+ needs Python >= 3.10 on the
# controller (Debian 12 has 3.11); its packages are installed for that Python.
CONTROLLER_BASE = Base("controller-base", "bookworm", '["/bin/sh"]')
CONTROLLER_PYTHON = "3.11"


def current_alias(name: str, repository: str = REPOSITORY) -> str:
    """`kubespray-harness/NAME:current`: the newest build of an image, for molecule.yml's defaults."""
    return f"{repository}/{name}:{CURRENT}"


@dataclass(frozen=True)
class NodeImages:
    node: str
    lb: str


def digest(*parts: str | bytes) -> str:
    """Short, stable content digest of the given parts, in order."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()[:16]


def context_digest(context: Path, *extra: str) -> str:
    """Digest of every file in a build context (names and contents) plus extra inputs."""
    parts: list[str | bytes] = list(extra)
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        parts += [str(path.relative_to(context)), oct(path.stat().st_mode & 0o777), path.read_bytes()]
    return digest(*parts)


def packages(images_dir: Path, base: Base = NODE_BASE) -> list[str]:
    lines = (images_dir / base.name / "packages.txt").read_text().splitlines()
    words = (line.split("#", 1)[0].strip() for line in lines)
    return [word for word in words if word]


def base_tags(settings: Settings, base: Base = NODE_BASE) -> dict[str, str]:
    """The base image tag each recipe would produce."""
    listed = ",".join(packages(settings.images_dir, base))
    repository = f"{settings.image_repository}/{base.name}"
    return {
        "debootstrap": f"{repository}:" + digest("debootstrap", base.suite, settings.debian_mirror, listed),
        "registry": f"{repository}:" + context_digest(settings.images_dir / base.name, "registry", base.registry_image),
    }


def ensure_images(settings: Settings, log: Callable[[str], None] = print) -> NodeImages:
    if settings.base_image_source not in SOURCES:
        raise HarnessError(
            f"HARNESS_BASE_IMAGE_SOURCE={settings.base_image_source!r} is not one of {', '.join(SOURCES)}"
        )
    client = provider.connect()
    with cache_lock(settings, "images"):  # runs starting together build each image once
        base = _ensure_base(client, settings, NODE_BASE, log)
        node = _ensure_layer(client, settings, "node", {"BASE_IMAGE": base}, log)
        lb = _ensure_layer(client, settings, "lb", {"NODE_IMAGE": node}, log)
    # A stable alias for molecule.yml's defaults when Molecule runs without the harness.
    for name, tag in (("node", node), ("lb", lb)):
        provider.tag_image(client, tag, current_alias(name, settings.image_repository))
    return NodeImages(node=node, lb=lb)


def _ensure_base(client: provider.Client, settings: Settings, base: Base, log: Callable[[str], None]) -> str:
    tags = base_tags(settings, base)
    wanted = settings.base_image_source
    candidates = ["debootstrap", "registry"] if wanted == "auto" else [wanted]
    for source in candidates:
        if provider.image_exists(client, tags[source]):
            return tags[source]
    if wanted in ("auto", "registry") and provider.try_pull(client, base.registry_image):
        log(f"building {tags['registry']} from {base.registry_image}")
        provider.build_image(client, settings.images_dir / base.name, tags["registry"], {}, tags["registry"])
        return tags["registry"]
    if wanted == "registry":
        raise HarnessError(
            f"cannot pull {base.registry_image}: reach a registry or set HARNESS_BASE_IMAGE_SOURCE=debootstrap"
        )
    log(f"no registry answers: bootstrapping {tags['debootstrap']} from Debian's mirror (about a minute)")
    _debootstrap_base(client, settings, base, tags["debootstrap"])
    return tags["debootstrap"]


def _debootstrap_base(client: provider.Client, settings: Settings, base: Base, tag: str) -> None:
    if shutil.which("debootstrap") is None:
        raise HarnessError(
            f"debootstrap is not installed and no registry serves {base.registry_image}: "
            "apt-get install debootstrap (as root)"
        )
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.cache_dir, prefix="rootfs-") as tmp:
        rootfs, tarball = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        argv = [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(packages(settings.images_dir, base)),
            base.suite,
            str(rootfs),
        ] + ([settings.debian_mirror] if settings.debian_mirror else [])
        # Its output says "Couldn't download" for a full disk too; its own log says what failed.
        _run(argv, "debootstrap", log=rootfs / "debootstrap" / "debootstrap.log")
        _run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], "packing the root file system")
        provider.import_rootfs(client, tarball, tag, tag, base.command)


def ensure_controller_image(settings: Settings, requirements: Path, log: Callable[[str], None] = print) -> str:
    """The controller image holding the Ansible that `requirements` (a Kubespray ref's
    requirements.txt) pins: built once per digest of its inputs, like the node images."""
    client = provider.connect()
    with cache_lock(settings, "images"):
        base = _ensure_base(client, settings, CONTROLLER_BASE, log)
        key = venv.install_key(requirements.read_bytes(), CONTROLLER_PYTHON)
        return _ensure_layer(
            client,
            settings,
            "controller",
            {"BASE_IMAGE": base},
            log,
            inputs=(key,),
            fill=lambda build: venv.install_for(requirements, build / "ansible", CONTROLLER_PYTHON),
            scratch=settings.cache_dir,  # the pinned Ansible is some 280 MB
        )


def _ensure_layer(
    client: provider.Client,
    settings: Settings,
    name: str,
    buildargs: dict[str, str],
    log: Callable[[str], None],
    inputs: tuple[str, ...] = (),
    fill: Callable[[Path], None] | None = None,
    scratch: Path | None = None,
) -> str:
    """The image built from images/NAME with `buildargs`, tagged by the digest of both and of
    `inputs`; `fill` adds what the context lacks, into a copy of it under `scratch`."""
    context = settings.images_dir / name
    tag = f"{settings.image_repository}/{name}:" + context_digest(context, *buildargs.values(), *inputs)
    if provider.image_exists(client, tag):
        return tag
    log(f"building {tag}")
    if fill is None:
        provider.build_image(client, context, tag, buildargs, tag)
        return tag
    with tempfile.TemporaryDirectory(dir=scratch, prefix=f"{name}-") as tmp:
        build = Path(tmp) / "context"
        shutil.copytree(context, build)
        fill(build)
        provider.build_image(client, build, tag, buildargs, tag)
    return tag


def _run(argv: list[str], what: str, log: Path | None = None) -> None:
    """Run `argv`; on failure, its output and `log` (where it says more than on its output) are the evidence."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        logged = log.read_text(errors="replace") if log is not None and log.is_file() else ""
        raise CommandFailed(what, argv, logged + proc.stdout + proc.stderr)
