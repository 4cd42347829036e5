"""A run's context: everything a scenario run needs, written once to context.json.

`harness run` creates it before Molecule starts; Molecule's playbooks call
`harness step`, which reads it back. Run standalone (`molecule test -s X`),
Molecule's dependency action creates it instead (`harness molecule-dependency`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from harness import deploys, images, inventory
from harness import scenario as scenarios
from harness.errors import HarnessError
from harness.kubespray import source
from harness.settings import PROJECT_ROOT, Settings

CONTEXT_FILE = "context.json"
FROM_WORKTREE = "kubespray-from"  # the old release's, in an upgrade across releases


@dataclass(frozen=True)
class RunContext:
    scenario: str
    ref: str
    sha: str
    run_id: str
    run_dir: Path
    worktree: Path
    controller_image: str  # the ref's pinned Ansible (harness.controller)
    node_image: str
    lb_image: str
    allow_egress: bool = True  # else the run's network is internal: nothing beyond its containers
    scenarios_dir: Path = PROJECT_ROOT / "scenarios"
    # An upgrade across releases (`--from`): the old release's steps run with its own worktree
    # and Ansible; empty when every step runs at `ref`.
    from_ref: str = ""
    from_sha: str = ""
    from_worktree: str = ""
    from_controller_image: str = ""
    # The run's network's /24 (harness.subnets); empty until the runner created the network.
    subnet: str = ""
    # Saved deploys (harness.deploys): the folder of the one this run boots its nodes from and
    # restores instead of deploying, or the one a passed deploy is saved to.
    saved_deploy: str = ""
    save_deploy_to: str = ""

    def for_step(self, step: scenarios.Step) -> RunContext:
        """The context a step runs in: the old release's Kubespray for a `from` step of an upgrade
        across releases; the inventory, fact cache and logs stay the run's own."""
        if not self.from_ref or not step.runs_at_from():
            return self
        return replace(
            self,
            ref=self.from_ref,
            sha=self.from_sha,
            worktree=Path(self.from_worktree),
            controller_image=self.from_controller_image,
        )

    @property
    def worktrees(self) -> list[Path]:
        return [self.worktree, *([Path(self.from_worktree)] if self.from_worktree else [])]

    @property
    def network(self) -> str:
        return inventory.network_name(self.run_id)

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def inventory_dir(self) -> Path:
        return self.run_dir / "inventory"

    @property
    def facts_dir(self) -> Path:
        return self.run_dir / "facts"

    @property
    def ssh_key(self) -> Path:
        return self.run_dir / "ssh" / "id_ed25519"

    @property
    def before_deploy_dir(self) -> Path:
        """Files of each node as they were before Kubespray's first run (`<node>/<file>`)."""
        return self.run_dir / "before-deploy"

    @property
    def steps_file(self) -> Path:
        return self.run_dir / "steps.jsonl"

    def save(self) -> None:
        data = {key: str(value) for key, value in asdict(self).items()}
        (self.run_dir / CONTEXT_FILE).write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, run_dir: Path) -> RunContext:
        path = run_dir / CONTEXT_FILE
        if not path.is_file():
            raise HarnessError(f"no run context at {path}: start runs with `harness run SCENARIO --ref REF`")
        data = json.loads(path.read_text())
        for key in ("run_dir", "worktree", "scenarios_dir"):
            if key in data:
                data[key] = Path(data[key])
        data["allow_egress"] = data.get("allow_egress", "True") == "True"
        return cls(**data)

    def image_of(self, node: scenarios.Node) -> str:
        """The image a node boots: its saved deploy's, else the load balancer's or the nodes'."""
        if self.saved_deploy:
            return deploys.image_for(Path(self.saved_deploy).name, node.name)
        return self.lb_image if node.role == "loadbalancer" else self.node_image

    def molecule_env(self, scenario: scenarios.Scenario) -> dict[str, str]:
        """What `harness nodes up` (Molecule's create), `harness step` and the checks read."""
        env = {
            "HARNESS_RUN_ID": self.run_id,
            "HARNESS_RUN_DIR": str(self.run_dir),
            "HARNESS_NETWORK_INTERNAL": "false" if self.allow_egress else "true",
            "HARNESS_SCENARIOS_DIR": str(self.scenarios_dir),
            **{image_variable(node.name): self.image_of(node) for node in scenario.nodes},
        }
        if self.subnet:
            env["HARNESS_SUBNET"] = self.subnet
        return env


def image_variable(node: str) -> str:
    """The environment variable molecule.yml takes a node's image from."""
    return "HARNESS_IMAGE_" + re.sub(r"[^A-Za-z0-9]", "_", node).upper()


def new_run_id() -> str:
    return secrets.token_hex(4)


def prepare(
    settings: Settings,
    scenario: scenarios.Scenario,
    ref: str,
    sha: str,
    run_dir: Path,
    run_id: str,
    log=print,
    changes: tuple[source.Change, ...] = (),
    upgrade_from: tuple[str, str] | None = None,
) -> RunContext:
    """Check out the ref's worktree at `sha`, the one commit the run resolved it to (with the
    changes applied), and ensure the images: the nodes', and the controller with its Ansible.
    `upgrade_from` (ref, sha): the old release too, in a worktree and controller of its own."""
    node_images = images.ensure_images(settings, log)
    run_dir.mkdir(parents=True, exist_ok=True)
    worktree = run_dir / "kubespray"
    if _checkout(settings, sha, worktree):
        for change in changes:
            log(f"applying {change.describe()}")
            source.apply_change(worktree, change)
    old = {}
    if upgrade_from is not None:
        old_worktree = run_dir / FROM_WORKTREE
        _checkout(settings, upgrade_from[1], old_worktree)
        old = {
            "from_ref": upgrade_from[0],
            "from_sha": upgrade_from[1],
            "from_worktree": str(old_worktree.resolve()),
            "from_controller_image": images.ensure_controller_image(settings, old_worktree / "requirements.txt", log),
        }
    saved_deploy, save_deploy_to = _saved_deploy(settings, scenario, node_images, old, log)
    context = RunContext(
        scenario=scenario.name,
        ref=ref,
        sha=sha,
        run_id=run_id,
        run_dir=run_dir.resolve(),
        worktree=worktree.resolve(),
        controller_image=images.ensure_controller_image(settings, worktree / "requirements.txt", log),
        node_image=node_images.node,
        lb_image=node_images.lb,
        allow_egress=egress_allowed(settings, scenario),
        scenarios_dir=settings.scenarios_dir,
        saved_deploy=saved_deploy,
        save_deploy_to=save_deploy_to,
        **old,
    )
    _new_ssh_key(context.ssh_key)
    context.save()
    return context


def _saved_deploy(
    settings: Settings, scenario: scenarios.Scenario, node_images: images.NodeImages, old: dict[str, str], log
) -> tuple[str, str]:
    """For an upgrade across releases: (the saved deploy to boot, or ""; where to save the deploy)."""
    if not old or not all(step.runs_at_from() for step in scenario.steps_of("prepare")):
        return "", ""  # only a deploy made wholly by the old release is the same for every new one
    egress = egress_allowed(settings, scenario)
    key = deploys.key_for(scenario, old["from_sha"], node_images.node, node_images.lb, egress)
    found = deploys.find(settings, key) if settings.reuse_deploys else None
    if found is not None:
        log(f"reusing {found.describe()} (--no-reuse deploys afresh)")
        return str(deploys.deploys_dir(settings) / key), ""
    return "", str(deploys.deploys_dir(settings) / key)


def _checkout(settings: Settings, sha: str, worktree: Path) -> bool:
    """A worktree at `sha` there; whether it is new (a standalone Molecule rerun keeps its own)."""
    if (worktree / ".git").exists() and source.worktree_sha(worktree) != sha:
        source.remove_worktree(settings, worktree)  # a standalone Molecule run on another ref
    if (worktree / ".git").exists():
        return False
    source.add_worktree(settings, sha, worktree)
    return True


def egress_allowed(settings: Settings, scenario: scenarios.Scenario) -> bool:
    """Whether the run's network reaches beyond its containers: always but for a sealed run
    (a stranger's report), where --allow-egress or the scenario's `egress: true` open it."""
    return not settings.sealed or settings.allow_egress or scenario.egress


def _new_ssh_key(key: Path) -> None:
    """A key pair of this run's own: Kubespray's Ansible logs in to the nodes with it."""
    if key.exists():
        return
    key.parent.mkdir(parents=True, exist_ok=True)
    argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kubespray-harness", "-f", str(key)]
    try:
        subprocess.run(argv, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise HarnessError(f"cannot create an SSH key with ssh-keygen ({exc}): install openssh-client") from exc


def current_run_dir(settings: Settings, scenario: str) -> Path:
    """This process's run directory: the one `harness run` made, or, when Molecule
    runs on its own, a fixed one per scenario (`runs/molecule-<scenario>`)."""
    if os.environ.get("HARNESS_RUN_DIR"):
        return Path(os.environ["HARNESS_RUN_DIR"])
    if not scenario:
        raise HarnessError("not inside a run: set HARNESS_RUN_DIR or run through `harness run` / molecule")
    return settings.runs_dir / f"molecule-{scenario}"
