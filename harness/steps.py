"""Running a scenario's Kubespray steps with the ref's own ansible-playbook.

Called by Molecule's prepare and converge playbooks (`harness step --phase X`):
each step is one real ansible-playbook run in the run's controller container
(harness.controller), with its own log, its own event file and a line in
steps.jsonl. The first failing step stops the phase.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import controller, deploys, events, hostvars, inventory, provider
from harness.clock import Stopwatch
from harness.context import RunContext
from harness.errors import HarnessError
from harness.scenario import Scenario, Step


@dataclass(frozen=True)
class StepResult:
    name: str
    phase: str
    argv: list[str]
    seconds: float
    rc: int
    log: str
    events: str
    reused: str = ""  # a saved deploy's step (harness.deploys): whose, and its time then
    started: float = 0.0  # Unix time: where the step sits in the run (`harness bench`'s gaps)


def ansible_env(context: RunContext, events_file: Path) -> dict[str, str]:
    """The controller's whole environment for one ansible-playbook (nothing of this machine's)."""
    inside = lambda path: controller.path_in(context, path)  # noqa: E731
    return {
        "ANSIBLE_CONFIG": inside(context.worktree / "ansible.cfg"),
        # Kubespray's ansible.cfg shares /tmp between runs; one cache per run.
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": inside(context.facts_dir),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_CALLBACK_PLUGINS": inside(events.CALLBACK_DIR),
        "ANSIBLE_CALLBACKS_ENABLED": f"{events.CALLBACK_NAME},profile_tasks",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_LOCAL_TEMP": controller.LOCAL_TEMP,
        "HARNESS_EVENTS_FILE": inside(events_file),
        # Replaces the ssh_args of Kubespray's ansible.cfg: its 30-minute ControlPersist
        # would outlive the run's nodes.
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s -o StrictHostKeyChecking=no "
        "-o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o LogLevel=ERROR",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": controller.SSH_CONTROL_DIR,
        "ANSIBLE_HOST_KEY_CHECKING": "False",
    }


def playbook_argv(
    context: RunContext, scenario: Scenario, step: Step, hosts_file: Path, addresses: dict[str, str]
) -> list[str]:
    """The step's ansible-playbook line; `-e` values get the nodes' addresses for their placeholders."""
    argv = ["ansible-playbook", "-i", controller.path_in(context, hosts_file), "-b", step.playbook]
    if step.limit:
        argv += ["--limit", step.limit]
    tags = scenario.step_tags(step)
    if tags:
        argv += ["--tags", ",".join(tags)]
    if step.skip_tags:
        argv += ["--skip-tags", ",".join(step.skip_tags)]
    if step.extra_vars:
        argv += ["-e", json.dumps(inventory.fill_placeholders(step.extra_vars, addresses))]
    return argv


def inventory_for_step(context: RunContext, scenario: Scenario, step: Step) -> Path:
    """Kubespray's inventory as it stands at this step (nodes join at their `joins_at` step)."""
    nodes = provider.run_nodes(provider.connect(), context.run_id, context.network)
    addresses = {name: node.address for name, node in sorted(nodes.items())}
    missing = [node.name for node in scenario.nodes if not addresses.get(node.name)]
    if missing:
        raise HarnessError(f"nodes not running on network {context.network}: {', '.join(missing)}")
    (context.run_dir / "nodes.json").write_text(json.dumps(addresses, indent=2) + "\n")
    public_key = context.ssh_key.with_suffix(".pub").read_text()
    for node in scenario.kubespray_nodes(step):
        nodes[node.name].authorize_ssh_key(public_key)
    ssh = inventory.SshAccess(controller.path_in(context, context.ssh_key), addresses)
    return inventory.write_inventory(context.inventory_dir, scenario, context.worktree, ssh, step)


def node_addresses(context: RunContext) -> dict[str, str]:
    """The nodes' addresses as the latest inventory_for_step found them."""
    return json.loads((context.run_dir / "nodes.json").read_text())


def run_variables(context: RunContext, scenario: Scenario) -> dict[str, dict[str, object]]:
    """The checked Kubespray variables per host, from the inventory of the latest step
    (the first step's before any ran: the load balancer is set up before the deploy)."""
    hosts_file = context.inventory_dir / "hosts.yml"
    if not hosts_file.is_file():
        hosts_file = inventory_for_step(context, scenario, scenario.steps[0])
    return hostvars.host_variables(context, hosts_file)


# Node files kept before the deploy: refs that no longer write /etc/hosts must leave it as it was.
BEFORE_DEPLOY = {"hosts": "/etc/hosts"}


def run_phase(context: RunContext, scenario: Scenario, phase: str) -> list[StepResult]:
    if phase == "prepare":  # a new deployment: earlier step records (standalone Molecule reruns) are void
        context.steps_file.unlink(missing_ok=True)
        if context.saved_deploy:  # the nodes booted from a saved deploy's disks
            return _record_all(context, deploys.restore(context))
        write_scenario_files(context, scenario)
        keep_files_before_deploy(context, scenario)
    results = _run_steps(context, scenario, phase)
    if phase == "prepare" and context.save_deploy_to and results and all(result.rc == 0 for result in results):
        _save_deploy(context, scenario, results)
    return results


def _save_deploy(context: RunContext, scenario: Scenario, results: list[StepResult]) -> None:
    """Save the passed deploy for later upgrades from its release; a save that fails costs them
    the time, not this run its verdict."""
    clock = Stopwatch()
    try:
        saved = deploys.save(context, scenario, results)
    except HarnessError as exc:
        print(f"note: the deploy was not saved for reuse: {exc.message}", flush=True)
        return
    if saved is not None:
        print(f"saved the deploy for later upgrades from {context.from_ref} in {clock.seconds():.0f}s")


def _record_all(context: RunContext, results: list[StepResult]) -> list[StepResult]:
    for result in results:
        _record(context, result)
        print(f"step {result.name}: reused {result.reused}, log {result.log}", flush=True)
    return results


def _run_steps(context: RunContext, scenario: Scenario, phase: str) -> list[StepResult]:
    results = []
    for step in scenario.steps_of(phase):
        # An upgrade across releases: the old release's steps with its Kubespray and Ansible; the
        # scenario's inventory and the run's fact cache carry over, as on an admin machine.
        at = context.for_step(step)
        result = run_step(at, scenario, step, inventory_for_step(at, scenario, step))
        results.append(result)
        if result.rc != 0:
            break
    return results


def write_scenario_files(context: RunContext, scenario: Scenario) -> None:
    """The files the scenario's nodes held before Kubespray ran (`files:`)."""
    if not scenario.files:
        return
    running = provider.run_nodes(provider.connect(), context.run_id, context.network)
    for file in scenario.files:
        holding = [node.name for node in scenario.nodes_holding(file)]
        for name in holding:
            if name not in running:
                raise HarnessError(f"cannot write {file.path} on {name}: the node is not running")
            running[name].write_file(file.path, file.content)
        print(f"wrote {file.path} on {', '.join(holding)}", flush=True)


def keep_files_before_deploy(context: RunContext, scenario: Scenario) -> None:
    missing = copy_node_files(context, scenario, BEFORE_DEPLOY, context.before_deploy_dir)
    if missing:
        raise HarnessError(f"cannot read {', '.join(missing)} before the deploy: are the nodes running?")


def copy_node_files(context: RunContext, scenario: Scenario, files: dict[str, str], into: Path) -> list[str]:
    """Copy each node's files (name -> path on the node) to `into/<node>/<name>`; the
    `node:path` of those that could not be read (node or file missing)."""
    running = provider.run_nodes(provider.connect(), context.run_id, context.network)
    missing = []
    for node in scenario.nodes:
        for name, path in files.items():
            content = running[node.name].read_file(path) if node.name in running else None
            if content is None:
                missing.append(f"{node.name}:{path}")
                continue
            (into / node.name).mkdir(parents=True, exist_ok=True)
            (into / node.name / name).write_text(content)
    return missing


def run_step(context: RunContext, scenario: Scenario, step: Step, hosts_file: Path) -> StepResult:
    index = scenario.steps.index(step) + 1
    stem = f"{index:02d}-{step.name}"
    context.logs_dir.mkdir(parents=True, exist_ok=True)
    log = context.logs_dir / f"{stem}.log"
    events_file = events_file_of(log)
    events_file.unlink(missing_ok=True)
    argv = playbook_argv(context, scenario, step, hosts_file, node_addresses(context))
    clock = Stopwatch()
    shutil.copyfile(hosts_file, context.logs_dir / f"{stem}.hosts.yml")  # the inventory this step saw
    with log.open("wb") as out:
        out.write(f"# in the controller ({context.controller_image}): {' '.join(argv)}\n".encode())
        out.flush()
        rc = controller.run(context, argv, ansible_env(context, events_file), out)
    result = StepResult(
        name=step.name,
        phase=step.phase,
        argv=argv,
        seconds=clock.seconds(),
        rc=rc,
        log=str(log),
        events=str(events_file),
        started=clock.at,
    )
    _record(context, result)
    print(f"step {step.name}: rc={rc} in {result.seconds:.0f}s, log {log}", flush=True)
    failure = events.first_failure(events.read_events(events_file)) if rc != 0 else None
    if failure is not None:
        print(f"  failed: TASK [{failure.task}] on {failure.host}: {failure.message}", flush=True)
    return result


def events_file_of(log: Path) -> Path:
    """A step's events, beside its log."""
    return log.with_name(log.name.removesuffix(".log") + ".events.jsonl")


def _record(context: RunContext, result: StepResult) -> None:
    with context.steps_file.open("a") as steps:
        steps.write(json.dumps(asdict(result)) + "\n")


def read_results(context: RunContext) -> list[StepResult]:
    if not context.steps_file.is_file():
        return []
    results = []
    for line in context.steps_file.read_text().splitlines():
        try:
            results.append(StepResult(**json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            continue  # a line still being written, read by the progress watcher
    return results
