"""Everything the harness itself asks of the container engine, in one place.

The harness creates the nodes (behind Molecule's delegated driver: scenarios/shared/create.yml
calls `harness nodes up`), builds images, checks that a run's names are free, reads node
addresses and files, and removes whatever carries a run's label.
No other module of the harness calls Docker (images, steps and the runner come here), so
another engine means another module with these functions.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import docker
import requests
from docker.errors import APIError, BuildError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container

from harness import subnets
from harness.errors import HarnessError, disk_full_message, is_disk_full

Client = docker.DockerClient
# What a call raises when the engine stops answering mid-run (the SDK lets requests' own through).
ENGINE_GONE = (DockerException, requests.exceptions.ConnectionError)  # and EngineGone, from connect()
RUN_LABEL = "kubespray-harness.run-id"
IMAGE_LABEL = "kubespray-harness.inputs"
# Where a file for a node waits before it is copied into place: on the node's own filesystem
# (the engine's archive API cannot reach the node's tmpfs mounts, /run among them).
STAGING = "/var/lib/kubespray-harness/staging"


class EngineGone(HarnessError):
    """No Docker engine answers (before or during a run)."""


def connect() -> Client:
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        raise EngineGone(
            f"no Docker engine answers ({exc.__class__.__name__}): start dockerd "
            "or point DOCKER_HOST at a running engine"
        ) from exc
    return client


def image_exists(client: Client, tag: str) -> bool:
    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True


def try_pull(client: Client, reference: str) -> bool:
    """True when the image is local or a registry served it."""
    if image_exists(client, reference):
        return True
    try:
        client.images.pull(reference)
    except (APIError, DockerException):
        return False
    return True


def build_image(client: Client, context: Path, tag: str, buildargs: dict[str, str], inputs: str) -> None:
    try:
        client.images.build(
            path=str(context),
            tag=tag,
            buildargs=buildargs,
            labels={IMAGE_LABEL: inputs},
            pull=False,  # parents are local images of ours; no registry needed
            rm=True,
        )
    except BuildError as exc:
        log = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in exc.build_log)
        if is_disk_full(f"{exc.msg}\n{log}"):
            raise HarnessError(disk_full_message(f"building image {tag}")) from exc
        raise HarnessError(f"building image {tag} failed: {exc.msg}", log_tail=log[-3000:]) from exc


def tag_image(client: Client, tag: str, alias: str) -> None:
    repository, _, version = alias.partition(":")
    client.images.get(tag).tag(repository, version)


def import_rootfs(client: Client, tarball: Path, tag: str, inputs: str, command: str) -> None:
    """Import a root file system as image `tag`, starting `command` (JSON exec form)."""
    repository, _, version = tag.partition(":")
    client.api.import_image(
        src=str(tarball),
        repository=repository,
        tag=version,
        changes=[f"CMD {command}", f"LABEL {IMAGE_LABEL}={inputs}"],
    )


def assert_names_free(client: Client, containers: list[str], network: str) -> None:
    taken = [name for name in containers if _container(client, name) is not None]
    if taken:
        raise HarnessError(
            f"container name(s) already taken: {', '.join(taken)}; remove them (docker rm -f ...) or use another run id"
        )
    if client.networks.list(names=[network]):
        raise HarnessError(
            f"network {network} already exists; remove it (docker network rm {network}) or use another run id"
        )


class SubnetTaken(HarnessError):
    """Every subnet the run could have is held by another network."""


def network_subnets(client: Client) -> list[str]:
    """The subnets of every network the engine has (the runs', the bridge, anyone's)."""
    return [
        pool["Subnet"]
        for network in client.networks.list()
        for pool in ((network.attrs.get("IPAM") or {}).get("Config") or [])
        if pool.get("Subnet")
    ]


def create_run_network(client: Client, name: str, run_id: str, internal: bool, choices: Iterable[str]) -> str:
    """Create the run's network on the first subnet of `choices` the engine accepts; return it.
    The engine refuses a subnet another network holds, so runs starting together never share one."""
    for subnet in choices:
        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=subnet, iprange=subnets.dynamic_range(subnet))]
        )
        try:
            client.networks.create(
                name, driver="bridge", internal=internal, labels={RUN_LABEL: run_id}, ipam=ipam, check_duplicate=True
            )
        except APIError as exc:
            if "overlap" in str(exc).lower():
                continue  # another run took it since the list was read
            raise
        return subnet
    raise SubnetTaken("no free /24 is left in the pool for the run's network")


@dataclass(frozen=True)
class Node:
    """One running node of a run, as the engine sees it (kind's Node handle): what the harness
    does on a node goes through here, never through Docker's client elsewhere."""

    container: Container
    name: str  # the node's hostname, which is its Kubespray name
    address: str  # on the run's network; "" if the node is not attached to it

    def exec(self, argv: list[str]) -> tuple[int, str]:
        exit_code, output = self.container.exec_run(argv)
        return exit_code, output.decode(errors="replace")

    def read_file(self, path: str) -> str | None:
        """The file's content, or None if it is missing."""
        exit_code, content = self.exec(["cat", path])
        return content if exit_code == 0 else None

    def write_file(self, path: str, content: str) -> None:
        """Put a file on the node (root's, mode 0644), its folder made if missing."""
        # put_archive takes the content as data, never through a shell of the node's; it goes to
        # a staging folder first: the engine's archive API cannot replace the files it once
        # bind-mounted (/etc/resolv.conf, /etc/hosts), so `cp` writes the content into place.
        staged = f"{STAGING}/{secrets.token_hex(4)}"
        self._must(["mkdir", "-p", staged, path.rsplit("/", 1)[0] or "/"], f"cannot prepare {path}")
        try:
            stored = self.container.put_archive(staged, _tar_of("file", content.encode()))
        except APIError as exc:
            raise HarnessError(f"cannot write {path} on {self.container.name}: {exc.explanation or exc}") from exc
        if not stored:
            raise HarnessError(f"cannot write {path} on {self.container.name}")
        self._must(["cp", f"{staged}/file", path], f"cannot write {path}")
        self._must(["rm", "-rf", staged], f"cannot clean up after writing {path}")

    def _must(self, argv: list[str], what: str) -> None:
        exit_code, output = self.exec(argv)
        if exit_code != 0:
            raise HarnessError(f"{what} on {self.container.name}: {output.strip()}")

    def save_as_image(self, image: str, label: str, value: str) -> None:
        """Commit the node's disk as `image` (repository:tag), labelled `label=value`. The unit
        folders the node serves from tmpfs copies (images/node/vm-files.sh) go back onto its disk
        first; /run is empty after a reboot anyway. The engine leaves /etc/hosts, resolv.conf and
        hostname out of the image (empty files): see harness.deploys.NODE_FILES."""
        self._must(["sh", "-c", _UNITS_TO_DISK], "cannot write the node's unit folders back to its disk")
        repository, tag = image.rsplit(":", 1)
        try:
            self.container.commit(repository, tag, changes=[f"LABEL {label}={value}"])
        except APIError as exc:
            output = str(exc.explanation or exc)
            what = f"saving node {self.name} as {image}"
            raise HarnessError(disk_full_message(what) if is_disk_full(output) else f"{what}: {output}") from exc

    def authorize_ssh_key(self, public_key: str) -> None:
        """Let the holder of the run's key log in to the node as root."""
        # $HOME: the node's root home, as `docker exec` sets it for the image's user.
        script = (
            'keys="$HOME/.ssh/authorized_keys" && umask 077 && mkdir -p "$HOME/.ssh" && touch "$keys" && '
            '{ grep -qxF "$1" "$keys" || printf "%s\\n" "$1" >> "$keys"; }'
        )
        self._must(["sh", "-c", script, "authorize", public_key.strip()], "cannot authorize the run's SSH key")


# A bind mount of / shows the node's own disk under the tmpfs copies of the unit folders (their
# folders stay: they are mount points, busy).
_UNITS_TO_DISK = """set -eu
disk=$(mktemp -d /var/tmp/disk.XXXXXX)
mount --bind / "$disk"
trap 'umount "$disk" && rmdir "$disk"' EXIT
for d in /usr/lib/systemd/system /etc/systemd/system; do
  if grep -q " $d " /proc/self/mountinfo; then
    find "$disk$d" -mindepth 1 -delete && cp -a "$d/." "$disk$d/"
  fi
done
"""


def remove_labelled_images(client: Client, label: str) -> None:
    """Remove the images carrying `label`; those a container still uses stay."""
    for image in client.images.list(filters={"label": label}):
        for tag in image.tags or [image.id]:
            try:
                client.images.remove(tag)
            except NotFound:
                continue
            except APIError as exc:
                if exc.status_code != 409:  # 409: a container uses it
                    raise


def remove_repository_images(client: Client, repository: str) -> None:
    """Remove every image tagged `repository/...` (a throwaway repository of `harness bench --cold`)."""
    for image in client.images.list(filters={"reference": f"{repository}/*"}):
        for tag in image.tags:
            if tag.startswith(f"{repository}/"):
                with contextlib.suppress(NotFound):
                    client.images.remove(tag, force=True)


def engine_facts(client: Client) -> dict[str, object]:
    """The engine and the machine as the engine sees them, for benchmark figures."""
    info = client.info()
    return {
        "engine": "docker",
        "engine_version": info.get("ServerVersion"),
        "cgroup_version": info.get("CgroupVersion"),
        "storage_driver": info.get("Driver"),
        "engine_cpus": info.get("NCPU"),
        "memory_gib": round(int(info.get("MemTotal") or 0) / 2**30, 1),
        "operating_system": info.get("OperatingSystem"),
    }


def _tar_of(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class Mount:
    source: Path  # on the machine running the harness
    target: str  # in the container
    read_only: bool = True


def run_in_controller(
    client: Client,
    image: str,
    run_id: str,
    network: str,
    argv: list[str],
    *,
    env: dict[str, str],
    workdir: str,
    mounts: list[Mount],
    output: BinaryIO,
) -> int:
    """Run `argv` in a throwaway controller container of the run; its output goes to
    `output`. Returns the exit code. The container is removed however this ends (and, if
    the harness itself dies, by remove_run: it carries the run's label)."""
    container = client.containers.create(
        image,
        argv,
        environment=env,
        working_dir=workdir,
        # Only these host paths; no Docker socket, nothing else of the machine.
        volumes={str(m.source): {"bind": m.target, "mode": "ro" if m.read_only else "rw"} for m in mounts},
        # The run's network only: the nodes, and no host network.
        network=network,
        hostname="controller",
        labels={RUN_LABEL: run_id},
        # Ansible needs no capability to read its files and talk SSH; a payload gains none.
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        # Its own cgroups only, not a view of the host's hierarchy.
        cgroupns="private",
        detach=True,
    )
    try:
        container.start()
        for chunk in container.logs(stream=True, follow=True):
            output.write(chunk)
            output.flush()
        return int(container.wait()["StatusCode"])
    finally:
        _ignore_gone(lambda: container.remove(force=True))


@dataclass(frozen=True)
class NodeSpec:
    """One node to start: its container, hostname, image and place on the run's network."""

    container: str
    hostname: str
    image: str
    network: str
    address: str
    run_id: str


def start_nodes(client: Client, specs: list[NodeSpec]) -> None:
    """Start the nodes side by side (about 2 s for six where Molecule's docker driver, a playbook
    of its own, took 20-30 s). Readiness is not waited for here: the prepare playbook waits for
    each node's systemd to report its target, and names a node that does not come up."""
    with ThreadPoolExecutor(max_workers=max(len(specs), 1)) as pool:
        list(pool.map(lambda spec: _start_node(client, spec), specs))


def _start_node(client: Client, spec: NodeSpec) -> None:
    host_config = client.api.create_host_config(
        # systemd mounts its own filesystems, and the entrypoint unmounts the engine's /etc binds
        # (images/node); --privileged is refused on the machines this was built on (README).
        cap_add=["SYS_ADMIN"],
        # A cgroup namespace of the node's own, and no bind of the host's /sys/fs/cgroup: the
        # host's hierarchy (its release_agent on cgroup v1) is out of reach; the engine mounts the
        # node's cgroups read-only, which systemd accepts on v1 and v2 alike. The engine's default
        # seccomp profile stays on: systemd boots under it.
        cgroupns="private",
        # systemd expects /run and /run/lock on tmpfs, empty at boot.
        tmpfs={"/run": "", "/run/lock": ""},
    )
    # The same address in every run on the same subnet: a saved deploy's facts stay true.
    endpoint = client.api.create_endpoint_config(ipv4_address=spec.address)
    try:
        client.api.create_container(
            spec.image,
            # systemd as PID 1: a node behaves like a VM for Kubespray.
            command=["/lib/systemd/systemd"],
            name=spec.container,
            hostname=spec.hostname,
            # Whatever carries the run's label is removed, however the run ends.
            labels={RUN_LABEL: spec.run_id},
            host_config=host_config,
            # The run's own network only: nodes reach each other by address, apart from other runs.
            networking_config=client.api.create_networking_config({spec.network: endpoint}),
            detach=True,
        )
        client.api.start(spec.container)
    except ImageNotFound as exc:
        raise HarnessError(f"node {spec.hostname}: no image {spec.image}: `harness images` builds it") from exc
    except APIError as exc:
        raise HarnessError(f"cannot start node {spec.hostname} ({spec.container}): {exc.explanation or exc}") from exc


def network_exists(client: Client, name: str) -> bool:
    # The engine's name filter matches parts of names too.
    return any(network.name == name for network in client.networks.list(names=[name]))


def run_nodes(client: Client, run_id: str, network: str) -> dict[str, Node]:
    """The run's running nodes by name."""
    nodes = {}
    running = client.containers.list(filters={"label": f"{RUN_LABEL}={run_id}"}, ignore_removed=True)
    for container in running:
        attrs = container.attrs
        address = attrs["NetworkSettings"]["Networks"].get(network, {}).get("IPAddress", "")
        nodes[attrs["Config"]["Hostname"]] = Node(container, attrs["Config"]["Hostname"], address)
    return nodes


def labelled_run_ids(client: Client) -> set[str]:
    """The run ids on every container, network and volume that carries the run label."""
    selector = {"label": RUN_LABEL}
    # sparse: the list's own labels, no inspect (a container may go meanwhile)
    listed = [
        *client.containers.list(all=True, sparse=True, filters=selector),
        *client.networks.list(filters=selector),
        *client.volumes.list(filters=selector),
    ]
    return {(item.attrs.get("Labels") or {}).get(RUN_LABEL, "") for item in listed} - {""}


def lost_nodes(client: Client, names: dict[str, str]) -> dict[str, str]:
    """Of the run's nodes (node -> container name), those whose container is gone or not running,
    with what the engine says of it ("exited (137)", "removed")."""
    containers = {node: _container(client, name) for node, name in names.items()}
    if not any(containers.values()):
        return {}  # the nodes were never created: a failure of its own, not a loss
    lost = {}
    for node, container in containers.items():
        if container is None:
            lost[node] = "removed"
        elif container.status != "running":
            lost[node] = f"{container.status} ({container.attrs['State'].get('ExitCode')})"
    return lost


def remove_run(client: Client, run_id: str) -> int:
    """Remove every container, network and volume labelled with the run id."""
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    removed = 0
    # sparse: no inspect per container, which 404s when Molecule's destroy removes one meanwhile
    for container in client.containers.list(all=True, sparse=True, filters=selector):
        _ignore_gone(lambda c=container: c.remove(force=True, v=True))
        removed += 1
    for network in client.networks.list(filters=selector):
        _ignore_gone(network.remove)
        removed += 1
    for volume in client.volumes.list(filters=selector):
        _ignore_gone(volume.remove)
        removed += 1
    return removed


def _container(client: Client, name: str):
    try:
        return client.containers.get(name)
    except NotFound:
        return None


def _ignore_gone(action) -> None:
    with contextlib.suppress(NotFound):  # removed meanwhile by Molecule's destroy
        action()
