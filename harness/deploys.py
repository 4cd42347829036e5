"""Saved deploys: what an old release's deploy left behind, made once and reused by later upgrades.

An upgrade across releases (`harness run --from OLD`) deploys at OLD before it upgrades. That
deploy is the same for every run of the scenario from the same OLD commit on the same node
images (a matrix column, each probe of a bisection), so the first such run whose deploy passed
saves it: each node's filesystem as an image (`docker commit`: a VM's disk outlives a reboot)
with the /etc files the engine leaves out of images, and the admin machine's side, the fact
cache, with the deploy step's log, events and inventory and the node files kept from before it.
A later run with the same key boots its nodes from those images on the same subnet
(harness.subnets: every address in the fact cache and the files is as it was), gets those files
and the fact cache back, and goes on with the upgrade; its report says whose deploy it reused.
`--no-reuse` (HARNESS_REUSE_DEPLOYS=0) deploys afresh.

On disk, `<cache>/deploys/<key>/`: meta.json (written last: a folder without it was never
saved), node-files/, facts/, before-deploy/, logs/, steps.jsonl; the node images carry the label
LABEL=<key>. `harness deploys --remove` removes them all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness import images, provider
from harness.clock import Stopwatch
from harness.errors import HarnessError
from harness.scenario import Scenario
from harness.settings import Settings, file_lock

if TYPE_CHECKING:
    from harness.context import RunContext
    from harness.steps import StepResult

SAVE_FORMAT = 2  # what a saved deploy holds; a new format is a new key
META_FILE = "meta.json"
LABEL = "kubespray-harness.saved-deploy"  # on a saved deploy's node images: its key
# Files the engine leaves out of a committed image (it bind-mounts its own there, and the node
# image makes them ordinary files): saved beside the images (`node-files/<node>/<name>`),
# written back before the upgrade.
NODE_FILES = {"hosts": "/etc/hosts", "resolv.conf": "/etc/resolv.conf", "hostname": "/etc/hostname"}


@dataclass(frozen=True)
class SavedDeploy:
    key: str
    scenario: str
    from_ref: str
    from_sha: str
    subnet: str
    origin_run: str  # the run whose deploy this is
    created: str
    deploy_seconds: float
    images: dict[str, str]  # node -> its image

    def describe(self) -> str:
        return (
            f"the deploy at {self.from_ref} ({self.from_sha[:12]}) saved by run {self.origin_run} "
            f"on {self.created} ({self.deploy_seconds:.0f} s then)"
        )


def deploys_dir(settings: Settings) -> Path:
    return settings.cache_dir / "deploys"


def key_for(scenario: Scenario, from_sha: str, node_image: str, lb_image: str, allow_egress: bool) -> str:
    """Everything the deploy's result depends on: the scenario's files, the old release's commit,
    the node images (tagged by their content), the network setting and the shared prepare (what
    ran on the nodes besides Kubespray: the scenario's `../shared`, as Molecule finds it)."""
    digest = hashlib.sha256()
    for part in (f"format {SAVE_FORMAT}", scenario.name, from_sha, node_image, lb_image, f"egress {allow_egress}"):
        digest.update(part.encode() + b"\0")
    for folder in (scenario.directory, scenario.directory.parent / "shared"):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and _shapes_deploy(p)):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _shapes_deploy(path: Path) -> bool:
    """Not the rendered molecule.yml, the host checks or Python caches: they run after the deploy."""
    return path.name != "molecule.yml" and "__pycache__" not in path.parts and "tests" not in path.parts


def image_for(key: str, node: str) -> str:
    return f"{images.REPOSITORY}/deploy:{key}-{node}"


def find(settings: Settings, key: str) -> SavedDeploy | None:
    """The saved deploy of this key, if it is whole (its record and every node image)."""
    saved = _read(deploys_dir(settings) / key)
    if saved is None:
        return None
    client = provider.connect()
    return saved if all(provider.image_exists(client, image) for image in saved.images.values()) else None


def read(directory: Path) -> SavedDeploy:
    """The saved deploy in `directory`; an error if it went meanwhile."""
    deploy = _read(directory)
    if deploy is None:
        raise HarnessError(f"the saved deploy at {directory} is gone: run again, or with --no-reuse")
    return deploy


def _read(directory: Path) -> SavedDeploy | None:
    try:
        return SavedDeploy(**json.loads((directory / META_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def saved(settings: Settings) -> list[SavedDeploy]:
    found = (_read(path) for path in sorted(deploys_dir(settings).glob("*")) if path.is_dir())
    return [deploy for deploy in found if deploy is not None]


def saved_subnets(settings: Settings) -> list[str]:
    """The subnets saved deploys come back on: fresh runs take others while any is free."""
    return [deploy.subnet for deploy in saved(settings)]


def save(context: RunContext, scenario: Scenario, deployed: list[StepResult]) -> SavedDeploy | None:
    """Save the run's deploy (its steps passed) under the key in context.save_deploy_to, unless
    another run saved it first. Nodes are committed while they run: the deploy is over."""
    directory = Path(context.save_deploy_to)
    key = directory.name
    with file_lock(directory.with_suffix(".lock")):
        if (directory / META_FILE).is_file():
            return None
        partial = directory.with_name(f"{key}.partial-{os.getpid()}")
        shutil.rmtree(directory, ignore_errors=True)  # a save that died half way
        try:
            return _save_into(partial, context, scenario, deployed)
        finally:
            shutil.rmtree(partial, ignore_errors=True)


def _save_into(partial: Path, context: RunContext, scenario: Scenario, deployed: list[StepResult]) -> SavedDeploy:
    """Commit the nodes, copy the admin machine's side into `partial`, then move it into place."""
    directory = Path(context.save_deploy_to)
    key = directory.name
    from harness.steps import copy_node_files  # steps calls this module

    nodes = provider.run_nodes(provider.connect(), context.run_id, context.network)
    saved_images = {}
    for node in scenario.nodes:
        saved_images[node.name] = image_for(key, node.name)
        nodes[node.name].save_as_image(saved_images[node.name], LABEL, key)
    missing = copy_node_files(context, scenario, NODE_FILES, partial / "node-files")
    if missing:
        raise HarnessError(f"cannot read {', '.join(missing)} to save it with the deploy")
    _copy_tree(context.facts_dir, partial / "facts")
    _copy_tree(context.before_deploy_dir, partial / "before-deploy")
    (partial / "logs").mkdir(parents=True, exist_ok=True)
    records = []
    for step in deployed:
        for path in _step_files(step):
            shutil.copy2(path, partial / "logs" / path.name)
        records.append(json.dumps(asdict(step)))
    (partial / "steps.jsonl").write_text("".join(f"{line}\n" for line in records))
    deploy = SavedDeploy(
        key=key,
        scenario=scenario.name,
        from_ref=context.from_ref,
        from_sha=context.from_sha,
        subnet=context.subnet,
        origin_run=context.run_id,
        created=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        deploy_seconds=round(sum(step.seconds for step in deployed), 1),
        images=saved_images,
    )
    (partial / META_FILE).write_text(json.dumps(asdict(deploy), indent=2) + "\n")
    partial.rename(directory)
    return deploy


def _restore_node_files(context: RunContext, saved_files: Path) -> None:
    nodes = provider.run_nodes(provider.connect(), context.run_id, context.network)
    for folder in sorted(saved_files.iterdir()):
        if folder.name not in nodes:
            raise HarnessError(f"node {folder.name} of the saved deploy is not running: cannot give back its files")
        for name, path in NODE_FILES.items():
            nodes[folder.name].write_file(path, (folder / name).read_text())


def _step_files(step: StepResult) -> list[Path]:
    """The step's log, events and the inventory it saw (runs' logs folder: NN-name.*)."""
    log = Path(step.log)
    return [path for path in (log, Path(step.events), log.with_suffix(".hosts.yml")) if path.is_file()]


def _copy_tree(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)


def restore(context: RunContext) -> list[StepResult]:
    """Give the run the saved deploy's fact cache, node files and step records (the nodes booted
    from its images): the deploy's own records, marked reused, in the run's logs."""
    from harness.steps import StepResult  # steps calls this module

    directory = Path(context.saved_deploy)
    deploy = read(directory)
    clock = Stopwatch()
    _restore_node_files(context, directory / "node-files")
    _copy_tree(directory / "facts", context.facts_dir)
    _copy_tree(directory / "before-deploy", context.before_deploy_dir)
    context.logs_dir.mkdir(parents=True, exist_ok=True)
    for path in (directory / "logs").iterdir():
        shutil.copy2(path, context.logs_dir / path.name)
    results = []
    for line in (directory / "steps.jsonl").read_text().splitlines():
        step = StepResult(**json.loads(line))
        results.append(
            replace(
                step,
                log=str(context.logs_dir / Path(step.log).name),
                events=str(context.logs_dir / Path(step.events).name),
                seconds=clock.seconds(),
                started=clock.at,
                reused=f"run {deploy.origin_run}'s deploy ({step.seconds:.0f} s then)",
            )
        )
    return results


def remove_all(settings: Settings) -> list[str]:
    """Remove every saved deploy, its node images first; what was removed, a line each."""
    client = provider.connect()
    removed = []
    for deploy in saved(settings):
        removed.append(f"{deploy.key}: {deploy.scenario} from {deploy.from_ref} ({len(deploy.images)} node images)")
    provider.remove_labelled_images(client, LABEL)
    for path in deploys_dir(settings).glob("*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed
