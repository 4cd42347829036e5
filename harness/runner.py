"""One scenario run on one Kubespray ref, from settings to verdict.

setup (ref -> sha, worktree, venv, images) -> Molecule create, prepare
(deploy), converge (the steps), verify (testinfra) -> artifacts -> destroy
and label cleanup, always -> verdict -> report.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness import checks, coverage, deploys, events, molecule, ownership, provider, steps, subnets
from harness import context as run_context
from harness import scenario as scenarios
from harness.clock import Stopwatch
from harness.context import RunContext
from harness.errors import HarnessError
from harness.inventory import container_name, network_name
from harness.kubespray import source
from harness.scenario import Expectation, Scenario
from harness.settings import Settings
from harness.verdict import Outcome, Verdict, decide, matches_expectation, not_exercised, passed_where_expected

ARTIFACTS = {"haproxy.cfg": "/etc/haproxy/haproxy.cfg", "nginx.conf": "/etc/nginx/nginx.conf", "hosts": "/etc/hosts"}
REPORT_FILE = "report.json"  # in every run directory, whatever command ran it
# report.json's version: `expected` is the verdict the run should get, `expectation` says it in words.
REPORT_SCHEMA = 1
PAIR = " -> "  # an upgrade across releases, as reports and expectation keys name it: `OLD -> NEW`


def upgrade_label(new: str, old: str | None = None) -> str:
    """`old -> new` for an upgrade across releases (refs or shas), else `new`."""
    return f"{old}{PAIR}{new}" if old else new


# The timings of the harness's own phases; every other timing of a run is a Kubespray step.
HARNESS_PHASES = ("setup", "create", "verify", "destroy")


@dataclass
class Timing:
    name: str
    seconds: float
    rc: int
    log: str = ""
    reused: str = ""  # a saved deploy's step: whose (harness.deploys)
    started: float = 0.0  # Unix time: the gaps between phases are read from it (`harness bench`)


@dataclass
class RunResult:
    scenario: str
    ref: str
    sha: str
    run_id: str
    run_dir: Path
    expected: Expectation
    verdict: Verdict | None = None
    failed_step: str | None = None
    failed_task: str | None = None
    failed_hosts: list[str] = field(default_factory=list)
    failed_message: str | None = None
    failed_log: str | None = None
    differences: list[str] = field(default_factory=list)  # why a failure is not the expected one
    action_failure: molecule.ActionResult | None = None  # a Molecule action that failed outside a step
    steps: list[Timing] = field(default_factory=list)
    checks: checks.CheckResults = field(default_factory=checks.CheckResults)
    removed: int = 0  # containers, networks and volumes removed at the end
    wall_seconds: float = 0.0  # the whole run, setup to cleanup, Molecule's own start-up included
    started: float = 0.0  # Unix time the run began (setup)
    changes: list[str] = field(default_factory=list)  # applied on top of sha (--patch, --cherry-pick)
    coverage: list[coverage.StepCoverage] = field(default_factory=list)  # per Kubespray step that ran
    # With a failure expected: did its task run (pass or fail) on every expected host in its step?
    expected_task_ran: bool | None = None
    # ... and did it pass there (ran on every expected host, failed on none)?
    expected_task_passed: bool | None = None
    lost_nodes: dict[str, str] = field(default_factory=dict)  # node -> its container's state at the end
    # An upgrade across releases (--from): the release that deployed; the steps after it ran at `ref`.
    from_ref: str | None = None
    from_sha: str | None = None
    reused_deploy: str | None = None  # the saved deploy the nodes booted from, described

    @property
    def refs(self) -> str:
        """`v2.26.0 -> v2.27.1` for an upgrade across releases, else the ref."""
        return upgrade_label(self.ref, self.from_ref)

    @property
    def matches(self) -> bool:
        return self.verdict is not None and matches_expectation(self.verdict)

    @property
    def failed_host(self) -> str | None:
        return self.failed_hosts[0] if self.failed_hosts else None

    def as_dict(self) -> dict[str, Any]:
        """report.json: the contract of a run (README, "Verdicts are earned"); a matrix cell is
        the same with the cell's fields added, so `harness matrix-report` reads either."""
        expected = Verdict.PASSED if self.expected.passes else Verdict.EXPECTED_FAILURE
        return {
            "schema": REPORT_SCHEMA,
            "scenario": self.scenario,
            "ref": self.ref,
            "sha": self.sha,
            "from_ref": self.from_ref,
            "from_sha": self.from_sha,
            "changes": self.changes,
            "run_id": self.run_id,
            "verdict": self.verdict.value if self.verdict else None,
            "expected": expected.value,
            "expectation": self.expected.describe(),
            "matches": self.matches,
            "failed_step": self.failed_step,
            "failed_task": self.failed_task,
            "failed_host": self.failed_host,
            "failed_hosts": self.failed_hosts,
            "failed_message": self.failed_message,
            "failed_log": self.failed_log,
            "differences": self.differences,
            "run_dir": str(self.run_dir),
            "seconds": self.wall_seconds,
            "started": self.started,
            "reused_deploy": self.reused_deploy,
            "steps": [asdict(timing) for timing in self.steps],
            "checks": self.checks.as_dict(),
            "coverage": {step.step: step.as_dict() for step in self.coverage},
            "expected_task_ran": self.expected_task_ran,
            "expected_task_passed": self.expected_task_passed,
            "lost_nodes": self.lost_nodes,
            "removed": self.removed,
        }


def expectation_for(
    settings: Settings,
    scenario: Scenario,
    ref: str,
    sha: str,
    from_ref: str | None = None,
    from_sha: str | None = None,
) -> Expectation | None:
    """The scenario's expectation for this ref, by name or by the commit it names; for an upgrade
    across releases (`from_ref`, `from_sha`), the one for the pair (`v2.26.0 -> v2.27.1`) first,
    else the new release's."""
    names = ([upgrade_label(ref, from_ref)] if from_ref else []) + [ref]
    for name in names:
        if name in scenario.expectations:
            return scenario.expectations[name]
    pairs = {key: value for key, value in scenario.expectations.items() if PAIR in key}
    for key, expectation in pairs.items() if from_sha else ():
        old, _, new = key.partition(PAIR)
        if _names_commit(settings, old, from_sha or "") and _names_commit(settings, new, sha):
            return expectation
    for key, expectation in scenario.expectations.items():
        if key not in pairs and _names_commit(settings, key, sha):
            return expectation
    return None


def _names_commit(settings: Settings, ref: str, sha: str) -> bool:
    try:
        return source.resolve(settings, ref) == sha
    except HarnessError:
        return False


def run_dir_for(settings: Settings, scenario: str, ref: str, run_id: str) -> Path:
    safe_ref = re.sub(r"[^A-Za-z0-9._-]", "_", ref)
    return settings.new_run_path(scenario, safe_ref, run_id)


def run(
    settings: Settings,
    scenario_name: str,
    ref: str,
    expect: Expectation | None = None,
    progress: Callable[[str], None] = print,
    changes: tuple[source.Change, ...] = (),
    sha: str | None = None,
    keep: bool = False,
    upgrade_from: str | None = None,
) -> RunResult:
    """Run a scenario at a ref: at `sha` when the caller resolved it already (the ref is
    resolved once per run, so a moving branch cannot give the report and the worktree two commits).
    With `keep`, a run that got to its end leaves its nodes running for a person to look inside
    (`harness down RUN_ID` removes them); an interrupted one is removed all the same.
    With `upgrade_from` (an older release), the steps that run at it (the deploy, by default) run
    with its Kubespray and Ansible, the others with `ref`'s, on the same nodes and fact cache."""
    scenario = scenarios.load(settings.scenarios_dir, scenario_name)
    sha = sha or source.resolve(settings, ref)
    from_sha = source.resolve(settings, upgrade_from) if upgrade_from else None
    if upgrade_from and not any(step.runs_at_from() for step in scenario.steps):
        raise HarnessError(f"--from {upgrade_from}: no step of scenario {scenario_name} runs at the old release")
    # The scenario's expectations are for the unchanged refs; a change under test is meant to fix.
    expectation = expect or (
        Expectation() if changes else expectation_for(settings, scenario, ref, sha, upgrade_from, from_sha)
    )
    label = upgrade_label(ref, upgrade_from)
    if expectation is None:
        raise HarnessError(
            f"scenario {scenario_name} states no expectation for {label}: add one to its scenario.yml "
            "or say it with --expect pass / --expect-fail-task TASK --expect-fail-step STEP "
            "--expect-fail-host HOST --expect-fail-message TEXT"
        )
    problem = expectation.fail and scenarios.failure_expectation_problem(scenario, expectation.fail)
    if problem:
        raise HarnessError(f"the expected failure cannot happen here: {problem}")
    client = provider.connect()
    run_id = run_context.new_run_id()
    provider.assert_names_free(
        client, [container_name(node.name, run_id) for node in scenario.nodes], network_name(run_id)
    )
    molecule.write_platforms(scenario)
    run_dir = run_dir_for(settings, scenario_name, f"{upgrade_from}-to-{ref}" if upgrade_from else ref, run_id)
    result = RunResult(scenario_name, ref, sha, run_id, run_dir.resolve(), expectation)
    result.from_ref, result.from_sha = upgrade_from, from_sha
    result.changes = [change.describe() for change in changes]
    applied = source.with_changes(result.changes)
    shas = upgrade_label(sha[:12], from_sha and from_sha[:12])
    progress(f"run {run_id}: {scenario_name} at {label} ({shas}){applied}, expecting {expectation.describe()}")
    progress(f"logs in {result.run_dir}")
    if settings.sealed:
        if run_context.egress_allowed(settings, scenario):
            why = "the scenario needs it (egress: true)" if scenario.egress else "--allow-egress"
            progress(f"egress allowed ({why}): the report's nodes and controller can reach beyond each other")
        else:
            progress("sealed: the report's nodes and controller reach each other and nothing else")

    _mention_leftovers(settings, progress)
    clock = Stopwatch()
    result.started = clock.at
    worktrees = (run_dir / "kubespray", *([run_dir / run_context.FROM_WORKTREE] if upgrade_from else []))
    with ownership.own(settings, run_id, worktrees):
        try:
            context = run_context.prepare(
                settings,
                scenario,
                ref,
                sha,
                run_dir,
                run_id,
                log=progress,
                changes=changes,
                upgrade_from=(upgrade_from, from_sha) if upgrade_from and from_sha else None,
            )
        except BaseException:
            for worktree in worktrees:
                source.remove_worktree(settings, worktree)
            raise
        _record(result, progress, Timing("setup", clock.seconds(), 0, started=clock.at))
        _run_lifecycle(settings, context, scenario, result, progress, keep, clock)
    _judge(context, scenario, result)
    result.coverage = _coverage(settings, context, scenario, progress)
    result.wall_seconds = clock.seconds()
    _write_report(result)
    return result


def _run_lifecycle(
    settings: Settings,
    context: RunContext,
    scenario: Scenario,
    result: RunResult,
    progress: Callable[[str], None],
    keep: bool,
    clock: Stopwatch,
) -> None:
    """Molecule's sequence, then the nodes removed (or kept with --keep, after a whole run). A run
    a signal stopped is torn down too, and its report says `interrupted`."""
    finished = False
    try:
        context = _claim_network(settings, context, result, progress)
        _lifecycle(context, scenario, result, progress, settings.action_timeout)
        finished = True
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP (harness.interrupts)
        result.verdict = Verdict.INTERRUPTED
        result.failed_message = f"interrupted by {exc.args[0] if exc.args else 'SIGINT'}"
        raise
    finally:
        if finished and keep:
            _keep_nodes(context, scenario, progress)
        else:
            _teardown(settings, context, scenario, result, progress)
        if result.verdict == Verdict.INTERRUPTED:
            result.wall_seconds = clock.seconds()
            _write_report(result)


def _claim_network(
    settings: Settings, context: RunContext, result: RunResult, progress: Callable[[str], None]
) -> RunContext:
    """Create the run's network before Molecule does: a saved deploy's nodes need its subnet back
    (if another run holds it, this run deploys afresh), other runs take a free /24 of the pool."""
    client = provider.connect()
    internal = not context.allow_egress
    if context.saved_deploy:
        deploy = deploys.read(Path(context.saved_deploy))
        try:
            subnet = provider.create_run_network(client, context.network, context.run_id, internal, [deploy.subnet])
            result.reused_deploy = deploy.describe()
            return _with_subnet(context, subnet)
        except provider.SubnetTaken:
            progress(f"note: another network holds {deploy.subnet}, the saved deploy's subnet: deploying afresh")
            context = replace(context, saved_deploy="", save_deploy_to="")
    pool = settings.subnet_pool
    choices = subnets.candidates(pool, provider.network_subnets(client), avoid=deploys.saved_subnets(settings))
    try:
        subnet = provider.create_run_network(client, context.network, context.run_id, internal, choices)
    except provider.SubnetTaken as exc:
        raise HarnessError(
            f"no /24 of {pool} is free for the run's network: `harness gc` removes networks of dead runs, "
            "or set HARNESS_SUBNET_POOL to a larger or other range"
        ) from exc
    return _with_subnet(context, subnet)


def _with_subnet(context: RunContext, subnet: str) -> RunContext:
    context = replace(context, subnet=subnet)
    context.save()  # `harness step`, inside Molecule, reads it back
    return context


def _write_report(result: RunResult) -> None:
    (result.run_dir / REPORT_FILE).write_text(json.dumps(result.as_dict(), indent=2) + "\n")


def _mention_leftovers(settings: Settings, progress: Callable[[str], None]) -> None:
    dead = ownership.find_leftovers(settings).dead
    if dead:
        runs = ", ".join(dead)
        progress(f"note: {len(dead)} earlier run(s) ended without cleaning up ({runs}): `harness gc` removes them")


def _keep_nodes(context: RunContext, scenario: Scenario, progress: Callable[[str], None]) -> None:
    _collect_artifacts(context, scenario)
    molecule.stop_run_processes(context.run_id)  # nothing of the run goes on working on the nodes
    first = container_name(scenario.nodes[0].name, context.run_id)
    progress(f"nodes kept: enter one with `docker exec -it {first} bash` (containers *-{context.run_id})")
    progress(f"remove them with `harness down {context.run_id}`")


def down(settings: Settings, run_id: str) -> list[str]:
    """Remove what a run left: its processes, containers, network, worktree and SSH sockets."""
    killed, objects = _remove_nodes(run_id)
    removed = [f"{killed} process(es)"] if killed else []
    if objects:
        removed.append(f"{objects} container(s), network(s) and volume(s)")
    for run_dir in sorted(settings.runs_dir.glob(f"*-{run_id}")):
        if (run_dir / run_context.CONTEXT_FILE).is_file():
            context = RunContext.load(run_dir)
            present = [worktree for worktree in context.worktrees if (worktree / ".git").exists()]
            _remove_local_state(settings, context, keep_worktree=False)
            removed += [f"worktree {worktree}" for worktree in present]
    return removed


def _remove_nodes(run_id: str, client: provider.Client | None = None) -> tuple[int, int]:
    """Stop what is left of the run's processes, then remove everything carrying its label:
    (processes killed, containers, networks and volumes removed)."""
    killed = molecule.stop_run_processes(run_id)
    return killed, provider.remove_run(client or provider.connect(), run_id)


def _remove_local_state(settings: Settings, context: RunContext, keep_worktree: bool) -> None:
    """The run's worktrees, unless they are to be kept (its SSH sockets were the controller's)."""
    if not keep_worktree:
        for worktree in context.worktrees:
            source.remove_worktree(settings, worktree)


def _lifecycle(
    context: RunContext, scenario: Scenario, result: RunResult, progress: Callable[[str], None], timeout: float
) -> None:
    watcher = _StepWatcher(context, result, progress)
    watcher.start()
    try:
        for action in molecule.SEQUENCE:
            progress(f"  … molecule {action}")
            outcome = molecule.run_action(context, action, timeout)
            watcher.flush()
            if action == "verify":
                molecule.keep_verify_junit(context)
            if action in HARNESS_PHASES:
                timing = Timing(action, outcome.seconds, outcome.rc, str(outcome.log), started=outcome.started)
                _record(result, progress, timing)
            if outcome.rc != 0:
                _note_action_failure(context, result, outcome)
                return
    finally:
        watcher.stop()


def _note_action_failure(context: RunContext, result: RunResult, outcome: molecule.ActionResult) -> None:
    """A Molecule action failed. Failures inside a Kubespray step are read from events later."""
    failed_steps = [step for step in steps.read_results(context) if step.rc != 0]
    if not failed_steps and outcome.action != "verify":
        result.action_failure = outcome


def _teardown(settings: Settings, context: RunContext, scenario: Scenario, result: RunResult, progress) -> None:
    """Artifacts out, then everything carrying the run's label removed, whatever state it is in.

    Molecule's destroy playbook stops each systemd node gracefully and took 23-54 s a run on the
    2-core machine; removing by label through the provider takes seconds, removes exactly what
    the run created, and works after any failure. (`molecule test` on its own still destroys
    with Molecule; the run's Molecule state is thrown away with the run.)"""
    try:  # the worktree goes even when the engine is gone (`harness gc` removes the rest later)
        _collect_artifacts(context, scenario)
        clock = Stopwatch()
        client = provider.connect()
        names = {node.name: container_name(node.name, context.run_id) for node in scenario.nodes}
        result.lost_nodes = provider.lost_nodes(client, names)
        _, result.removed = _remove_nodes(context.run_id, client)
    finally:
        _remove_local_state(settings, context, keep_worktree=settings.keep_worktree)
    _record(result, progress, Timing("destroy", clock.seconds(), 0, started=clock.at))


def _collect_artifacts(context: RunContext, scenario: Scenario) -> None:
    """Keep what Kubespray wrote on each node, for the report and for people (what a node
    never had, or a node that is gone, is left out)."""
    steps.copy_node_files(context, scenario, ARTIFACTS, context.run_dir / "artifacts")


def _judge(context: RunContext, scenario: Scenario, result: RunResult) -> None:
    result.checks = checks.read_run_checks(
        context.run_dir / "verify-junit.xml", context.run_dir / checks.NOT_APPLICABLE_FILE
    )
    recorded = [(step, events.read_events(Path(step.events))) for step in steps.read_results(context)]
    outcome, log = outcome_of(recorded, result.action_failure, result.checks, scenario.optional_checks)
    log = log or str(context.logs_dir / "molecule-verify.log")
    shown = outcome.unreachable or outcome.failure
    if outcome.unreachable is not None:
        result.failed_step = _step_of(recorded, outcome.unreachable)
        result.failed_log = next((step.log for step, _ in recorded if step.name == result.failed_step), log)
    elif not outcome.passed:
        result.failed_step, result.failed_log = outcome.failed_step, log
    if shown is not None:
        result.failed_task, result.failed_hosts, result.failed_message = shown.task, list(shown.hosts), shown.message
    if outcome.unreachable is not None:
        result.failed_message = f"unreachable: {outcome.unreachable.message}"
    if outcome.checks_skipped and outcome.passed:
        result.failed_step, result.failed_log = "verify", log
        result.failed_task = "testinfra: skipped " + ", ".join(outcome.checks_skipped)
        result.failed_message = "host checks were skipped; a scenario that means it lists them in optional_checks"
    judgement = decide(result.expected, outcome)
    result.verdict, result.differences = judgement.verdict, list(judgement.differences)
    if result.lost_nodes:  # whatever Ansible made of it (unreachable, a failure): not Kubespray's doing
        lost = ", ".join(sorted(result.lost_nodes))
        result.verdict, result.failed_task = Verdict.UNEXPECTED_FAILURE, f"node lost ({lost})"
        states = "; ".join(f"{node}: {state}" for node, state in sorted(result.lost_nodes.items()))
        result.failed_message = f"a node's container stopped during the run ({states})"
        result.differences = [f"node lost ({lost}): the run's verdict says nothing about Kubespray"]
    if result.expected.fail is not None:
        result.expected_task_ran = not_exercised(result.expected.fail, outcome) is None
        result.expected_task_passed = passed_where_expected(result.expected.fail, outcome)


def _coverage(
    settings: Settings, context: RunContext, scenario: Scenario, progress: Callable[[str], None]
) -> list[coverage.StepCoverage]:
    """Per step that ran: its task results, and the share of its playbook's tasks its tags select."""
    found = []
    for step in steps.read_results(context):
        spec = next((s for s in scenario.steps if s.name == step.name), None)
        if spec is None:
            continue
        tasks = coverage.listing_or_none(settings, context.for_step(spec).sha, spec.playbook, progress)
        tags, skip_tags = scenario.step_tags(spec), spec.skip_tags or []
        found.append(
            coverage.of_step(step.name, spec.playbook, events.read_events(Path(step.events)), tasks, tags, skip_tags)
        )
    return found


def outcome_of(
    recorded: list[tuple[steps.StepResult, list[dict]]],
    action_failure: molecule.ActionResult | None,
    results: checks.CheckResults,
    optional_checks: list[str],
) -> tuple[Outcome, str | None]:
    """What happened in a run, and the log that shows it. Precedence: a host unreachable in
    any step (even ignored); else the first failed Kubespray step; else a Molecule action that
    failed outside the steps; else host checks that failed or never ran; else skipped checks."""
    unreachable = next((found for _, events_ in recorded if (found := events.unreachable(events_))), None)
    runs = {
        (step.name, task, host): status
        for step, events_ in recorded
        for (task, host), status in events.task_runs(events_).items()
    }
    failed = next(((step, events_) for step, events_ in recorded if step.rc != 0), None)
    if failed is not None:
        step, events_ = failed
        failure = events.first_failure(events_) or events.Failure(
            "(no failed task recorded)", (), f"ansible-playbook exited {step.rc}"
        )
        return Outcome(step.name, failure, unreachable, task_runs=runs), step.log
    if action_failure is not None:
        name = f"molecule {action_failure.action}"
        failure = events.Failure(name, (), molecule.log_tail(action_failure.log, 8))
        return Outcome(name, failure, unreachable, task_runs=runs), str(action_failure.log)
    if not results.passed:
        failure = events.Failure(
            "testinfra: " + results.summary(),
            (),
            results.first_message or "the verifier produced no results",
        )
        return Outcome("verify", failure, unreachable, task_runs=runs), None
    skipped = tuple(results.required_skipped(optional_checks))
    return Outcome(unreachable=unreachable, checks_skipped=skipped, task_runs=runs), None


def _step_of(recorded: list[tuple[steps.StepResult, list[dict]]], failure: events.Failure) -> str | None:
    """The step in which a failure (e.g. an unreachable host) was recorded."""
    for step, events_ in recorded:
        if any(e.get("task") == failure.task and e.get("host") in failure.hosts for e in events_):
            return step.name
    return None


def _record(result: RunResult, progress, timing: Timing) -> None:
    result.steps.append(timing)
    mark = "ok" if timing.rc == 0 else f"rc={timing.rc}"
    mark += f" (reused: {timing.reused})" if timing.reused else ""
    progress(f"  {timing.name:<28} {timing.seconds:7.1f}s  {mark}")


class _StepWatcher:
    """Prints each Kubespray step as `harness step` finishes it, during Molecule's actions."""

    def __init__(self, context: RunContext, result: RunResult, progress) -> None:
        self._context, self._result, self._progress = context, result, progress
        self._seen = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            done = steps.read_results(self._context)
            for step in done[self._seen :]:
                timing = Timing(step.name, step.seconds, step.rc, step.log, step.reused, step.started)
                _record(self._result, self._progress, timing)
            self._seen = len(done)
