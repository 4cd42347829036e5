"""Node images, tagged by a digest of their inputs so a rebuild happens only on change.

Chain: base (Debian 11 + systemd + python3) -> node (control planes, workers)
-> lb (the HAProxy load balancer). The base comes from `debian:bullseye` where
a registry answers, otherwise from debootstrap against Debian's mirror.
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
from harness.settings import Settings, cache_lock

REPOSITORY = "kubespray-harness"
DEBIAN_SUITE = "bullseye"
REGISTRY_BASE = "debian:bullseye"
SOURCES = ("auto", "registry", "debootstrap")
CURRENT = "current"


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


def packages(images_dir: Path) -> list[str]:
    lines = (images_dir / "base" / "packages.txt").read_text().splitlines()
    words = (line.split("#", 1)[0].strip() for line in lines)
    return [word for word in words if word]


def base_tags(settings: Settings) -> dict[str, str]:
    """The base image tag each recipe would produce."""
    base_dir = settings.images_dir / "base"
    return {
        "debootstrap": f"{REPOSITORY}/base:"
        + digest("debootstrap", DEBIAN_SUITE, settings.debian_mirror, ",".join(packages(settings.images_dir))),
        "registry": f"{REPOSITORY}/base:" + context_digest(base_dir, "registry", REGISTRY_BASE),
    }


def ensure_images(settings: Settings, log: Callable[[str], None] = print) -> NodeImages:
    if settings.base_image_source not in SOURCES:
        raise HarnessError(
            f"HARNESS_BASE_IMAGE_SOURCE={settings.base_image_source!r} is not one of {', '.join(SOURCES)}"
        )
    client = provider.connect()
    with cache_lock(settings, "images"):  # runs starting together build each image once
        base = _ensure_base(client, settings, log)
        node = _ensure_layer(client, settings.images_dir / "node", "node", {"BASE_IMAGE": base}, log)
        lb = _ensure_layer(client, settings.images_dir / "lb", "lb", {"NODE_IMAGE": node}, log)
    # A stable alias for molecule.yml's defaults when Molecule runs without the harness.
    for tag in (node, lb):
        provider.tag_image(client, tag, f"{tag.partition(':')[0]}:{CURRENT}")
    return NodeImages(node=node, lb=lb)


def _ensure_base(client: provider.Client, settings: Settings, log: Callable[[str], None]) -> str:
    tags = base_tags(settings)
    wanted = settings.base_image_source
    candidates = ["debootstrap", "registry"] if wanted == "auto" else [wanted]
    for source in candidates:
        if provider.image_exists(client, tags[source]):
            return tags[source]
    if wanted in ("auto", "registry") and provider.try_pull(client, REGISTRY_BASE):
        log(f"building {tags['registry']} from {REGISTRY_BASE}")
        provider.build_image(client, settings.images_dir / "base", tags["registry"], {}, tags["registry"])
        return tags["registry"]
    if wanted == "registry":
        raise HarnessError(
            f"cannot pull {REGISTRY_BASE}: reach a registry or set HARNESS_BASE_IMAGE_SOURCE=debootstrap"
        )
    log(f"no registry answers: bootstrapping {tags['debootstrap']} from Debian's mirror (about a minute)")
    _debootstrap_base(client, settings, tags["debootstrap"])
    return tags["debootstrap"]


def _debootstrap_base(client: provider.Client, settings: Settings, tag: str) -> None:
    if shutil.which("debootstrap") is None:
        raise HarnessError(
            "debootstrap is not installed and no registry serves debian:bullseye: apt-get install debootstrap (as root)"
        )
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.cache_dir, prefix="rootfs-") as tmp:
        rootfs, tarball = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        argv = [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(packages(settings.images_dir)),
            DEBIAN_SUITE,
            str(rootfs),
        ] + ([settings.debian_mirror] if settings.debian_mirror else [])
        _run(argv, "debootstrap")
        _run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], "packing the root file system")
        provider.import_rootfs(client, tarball, tag, tag)


def _ensure_layer(
    client: provider.Client, context: Path, name: str, buildargs: dict[str, str], log: Callable[[str], None]
) -> str:
    tag = f"{REPOSITORY}/{name}:" + context_digest(context, *buildargs.values())
    if not provider.image_exists(client, tag):
        log(f"building {tag}")
        provider.build_image(client, context, tag, buildargs, tag)
    return tag


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CommandFailed(what, argv, proc.stdout + proc.stderr)
