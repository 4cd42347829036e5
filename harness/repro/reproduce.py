"""`harness repro REPORT`: a bug report replayed in containers.

report -> (ref, inventory, commands, reported failure) -> safety scan ->
a scenario folder in the repro's directory -> one ordinary scenario run
expecting the reported failure -> reproduced / not reproduced / failed elsewhere.
Everything about the input is checked before any container starts.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness import matrix, molecule, runner
from harness import scenario as scenarios
from harness.errors import HarnessError
from harness.kubespray import listing, source
from harness.repro import build, commands, form, output, safety, tags
from harness.repro import files as report_files
from harness.repro import inventory as report_inventory
from harness.repro.output import ReportedFailure
from harness.runner import RunResult
from harness.scenario import Expectation
from harness.settings import Settings
from harness.verdict import ReproVerdict, repro_verdict

# Of a run's report.json (RunResult.as_dict), what repro.json carries as it is.
SHARED_RUN_FIELDS = (
    "ref",
    "sha",
    "changes",
    "failed_step",
    "failed_task",
    "failed_host",
    "failed_hosts",
    "failed_message",
    "failed_log",
    "differences",
    "run_dir",
    "seconds",
    "steps",
    "checks",
    "coverage",
)


@dataclass(frozen=True)
class ReproOptions:
    report: Path
    steps: list[str] = field(default_factory=list)  # --step: the commands, when the report says them in prose
    ref: str | None = None  # another ref than the report's (e.g. the fixed one)
    trust_report: bool = False
    changes: tuple[source.Change, ...] = ()
    save_scenario: str | None = None
    tags: list[str] | None = None


@dataclass
class Prepared:
    """A report read, checked and written out as a scenario, ready to run."""

    name: str
    ref: str
    sha: str
    failure: ReportedFailure
    plan: build.Plan
    settings: Settings  # runs in the repro's directory, with its scenario folder
    directory: Path
    findings: list[safety.Finding]
    saved_to: Path | None = None
    tag_choice: tags.TagChoice | None = None  # None when --tags chose them


@dataclass
class ReproResult:
    prepared: Prepared
    run: RunResult
    verdict: ReproVerdict
    cannot_reproduce_here: str | None = None  # why, with that verdict
    # Not reproduced: the reported task passed, then the run stopped at a task beyond containers.
    stopped_beyond_containers: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The run's report.json fields that a repro shares, with the report's side beside them."""
        run, failure = self.run.as_dict(), self.prepared.failure
        return {
            "schema": runner.REPORT_SCHEMA,
            "verdict": self.verdict.value,
            "report": str(self.prepared.directory / "report.md"),
            **{field: run[field] for field in SHARED_RUN_FIELDS},
            "expected_task": failure.task,
            "expected_step": self.prepared.plan.failure_step,
            "expected_hosts": list(failure.hosts),
            "expected_message": failure.message,
            "expected_rc": failure.rc,
            "scenario_dir": str(self.prepared.settings.scenarios_dir / self.prepared.name),
            "saved_scenario": str(self.prepared.saved_to) if self.prepared.saved_to else None,
            "notes": self.prepared.plan.notes,
            "tags": self.prepared.plan.steps[-1]["tags"],
            "tag_reasons": self.prepared.plan.tag_reasons,
            "sandboxed_findings": [finding.describe() for finding in self.prepared.findings],
            "cannot_reproduce_here": self.cannot_reproduce_here,
            "stopped_beyond_containers": self.stopped_beyond_containers,
            "run": run,  # the run's whole report.json (schema 1), as `harness matrix-report` reads it
        }


def prepare(settings: Settings, options: ReproOptions, log: Callable[[str], None] = print) -> Prepared:
    report = form.read(options.report)
    ref = options.ref or form.kubespray_ref(report)
    inventory = report_inventory.read(report)
    where = f"{report.path}: section {form.section('ansible_command')}"
    replayed = commands.from_report(report.code("ansible_command"), options.steps, where)
    failure = _reported_failure(report)
    findings = _scan(inventory, replayed.commands)
    for finding in findings:
        log(f"note: {finding.describe()}: it runs in the run's controller container, not on this machine")
    sha = _resolve(settings, ref, report, from_report=options.ref is None)
    _check_playbooks(settings, sha, replayed.commands, where, options.trust_report)
    name = _scenario_name(options.report)
    step = failing_step(inventory, replayed.commands, failure, report)
    playbook = replayed.commands[build.command_index(step) - 1].playbook
    tasks = listing.list_tasks(settings, sha, playbook, log)
    failure, renamed = _task_at_ref(failure, tasks)
    if options.tags:
        chosen = None
        log(f"tags: {','.join(options.tags)} (--tags)")
    else:
        chosen = _choose_tags(settings, sha, inventory, tasks, failure, log)
    machine_files = report_files.read(report, inventory)
    plan = build.plan(
        _description(report), inventory, replayed.commands, failure, step, ref, options.tags, chosen, machine_files
    )
    plan.notes[:0] = replayed.notes + renamed
    directory = _repro_directory(settings, name)
    scenarios_dir = _scenarios_dir(settings, directory)
    build.write(plan, scenarios_dir / name, source=options.report.name)
    shutil.copyfile(options.report, directory / "report.md")
    scenarios.load(scenarios_dir, name)  # the same validation a hand-written scenario gets
    for note in plan.notes:
        log(f"note: {note}")
    prepared = Prepared(
        name,
        ref,
        sha,
        failure,
        plan,
        replace(settings, scenarios_dir=scenarios_dir, runs_dir=directory, sealed=True),
        directory,
        findings,
        tag_choice=chosen,
    )
    if options.save_scenario:
        prepared.saved_to = save_scenario(settings, prepared, options.save_scenario)
        log(f"saved as scenario {options.save_scenario}: {prepared.saved_to}")
    return prepared


def reproduce(settings: Settings, options: ReproOptions, progress: Callable[[str], None] = print) -> ReproResult:
    prepared = prepare(settings, options, progress)
    expectation = Expectation(fail=prepared.plan.expected_failure())
    progress(f"reported failure: {expectation.describe()}")
    result = runner.run(
        prepared.settings,
        prepared.name,
        prepared.ref,
        expectation,
        progress=progress,
        changes=options.changes,
        sha=prepared.sha,
    )
    assert result.verdict is not None
    verdict = repro_verdict(result.verdict)
    beyond = beyond_containers(prepared, result, progress) if verdict == ReproVerdict.FAILED_ELSEWHERE else None
    if beyond and result.expected_task_passed:
        hosts = ", ".join(prepared.failure.hosts)
        stopped = f"TASK [{prepared.failure.task}] ran on {hosts} and passed; then {beyond}"
        progress(f"not reproduced: {stopped}")
        return ReproResult(prepared, result, ReproVerdict.NOT_REPRODUCED, stopped_beyond_containers=stopped)
    if beyond and not result.expected_task_ran:
        why = f"{beyond}; TASK [{prepared.failure.task}] had not run"
        progress(f"cannot reproduce here: {why}")
        return ReproResult(prepared, result, ReproVerdict.CANNOT_REPRODUCE_HERE, why)
    return ReproResult(prepared, result, verdict)


def beyond_containers(prepared: Prepared, run: RunResult, log: Callable[[str], None] = print) -> str | None:
    """Why the task a run failed at, when it is not the reported one, says nothing about the report:
    only a tag added to reach the reported task selects it (the kubelet's, a network plugin's,
    etcd's), i.e. it is beyond what is known to run in containers, and needs the downloads,
    binaries or services the offline tags never set up. None for any other failure."""
    choice, step = prepared.tag_choice, _step_named(prepared.plan, run.failed_step)
    if choice is None or not choice.reaching or not run.failed_task or step is None:
        return None
    if run.failed_task.strip() == prepared.failure.task.strip() or step.get("tags") != choice.tags:
        return None  # the reported task itself, or the reporter's own --tags
    entries = listing.list_tasks(prepared.settings, prepared.sha, step["playbook"], log).entries(run.failed_task)
    tag = choice.reached_only_by(entries)
    if tag is None:
        return None
    return (
        f"TASK [{run.failed_task}] failed in step {run.failed_step}; it runs here only because tag {tag} was "
        "added to reach the reported task, and it needs what Kubespray's other tags set up (downloads, "
        "binaries, services), which do not run in containers"
    )


def _step_named(plan: build.Plan, name: str | None) -> dict[str, Any] | None:
    return next((step for step in plan.steps if step["name"] == name), None)


def _task_at_ref(failure: ReportedFailure, tasks: listing.Listing) -> tuple[ReportedFailure, list[str]]:
    """The reported failure with its task as named at this ref (a note when Kubespray renamed it)."""
    here = tasks.name_here(failure.task)
    if here is None or here == failure.task:
        return failure, []
    why = "Kubespray run as a collection" if here == listing.without_collection(failure.task) else "renamed"
    return replace(failure, task=here), [f"TASK [{failure.task}] is TASK [{here}] at this ref ({why})"]


def _choose_tags(
    settings: Settings,
    sha: str,
    inventory: report_inventory.ReportInventory,
    found: listing.Listing,
    failure: ReportedFailure,
    log: Callable[[str], None],
) -> tags.TagChoice:
    """The tags the reported task needs at this ref, read from the failing command's playbook."""
    layers = [inventory.group_vars.get("all", {}), inventory.group_vars.get("k8s_cluster", {})]
    layers += [
        inventory.group_vars[group] for group in sorted(inventory.group_vars) if group not in ("all", "k8s_cluster")
    ]
    layers += [host.vars for host in inventory.hosts if host.name in failure.hosts]
    choice = tags.choose(found, failure.task, tags.switched_roles(settings, sha, layers))
    log(f"tags: {','.join(choice.tags)}")
    for reason in choice.reasons:
        log(f"  {reason}")
    return choice


def _resolve(settings: Settings, ref: str, report: form.BugReport, from_report: bool) -> str:
    try:
        return source.resolve(settings, ref)
    except HarnessError as exc:
        if not from_report:
            raise
        raise HarnessError(
            f"{report.path}: section {form.section('kubespray_version')}: {ref!r} is not a commit, tag or branch "
            f"of {settings.kubespray_repo}; correct it or give --ref"
        ) from exc


def _reported_failure(report: form.BugReport) -> ReportedFailure:
    where = f"{report.path}: section {form.section('ansible_output')}"
    try:
        failure = output.reported_failure(report.code("ansible_output"))
    except output.NoReportedFailure as exc:
        raise HarnessError(f"{where}: {exc}") from exc
    except output.CannotReproduceHere as exc:
        raise HarnessError(f"cannot reproduce here: {exc} ({where})") from exc
    if not failure.message and failure.rc is None:
        raise HarnessError(
            f"{where}: the failure of TASK [{failure.task}] says nothing to match (no msg, stderr, module_stdout, "
            "exception or rc); paste the whole failed result, or run with -vvv and paste that"
        )
    return failure


def failing_step(
    inventory: report_inventory.ReportInventory,
    replayed: list[commands.Command],
    failure: ReportedFailure,
    report: form.BugReport,
) -> str:
    """The step the reported failure belongs to: the first command whose --limit reaches every
    host that failed (a reporter stops at the first command that fails)."""
    for index, command in enumerate(replayed, start=1):
        if set(failure.hosts) <= report_inventory.hosts_matching(inventory, command.limit):
            return build.command_step(index)
    raise HarnessError(
        f"{report.path}: the failing host(s) {', '.join(failure.hosts)} are in no command's --limit; "
        f"check section {form.section('ansible_command')} against the output"
    )


def _scan(inventory: report_inventory.ReportInventory, replayed: list[commands.Command]) -> list[safety.Finding]:
    findings = []
    for host in inventory.hosts:
        findings += safety.scan(f"host {host.name}", host.vars)
    for group, variables in inventory.group_vars.items():
        findings += safety.scan(f"group {group}", variables)
    for index, command in enumerate(replayed, start=1):
        findings += safety.scan(f"-e of command {index}", command.extra_vars)
    return findings


def _check_playbooks(settings: Settings, sha: str, replayed: list[commands.Command], where: str, trusted: bool) -> None:
    repo = source.ensure_clone(settings)
    for command in replayed:
        if not trusted and not commands.is_kubespray_playbook(command.playbook):
            raise HarnessError(
                f"{where}: playbook {command.playbook!r} is not one of Kubespray's playbooks (top level or "
                "playbooks/); read it, then rerun with --trust-report to run it"
            )
        if not source.git(repo, "ls-tree", "--name-only", sha, "--", command.playbook, check=False):
            raise HarnessError(f"{where}: playbook {command.playbook!r} is not in Kubespray at {sha[:12]}")


def _scenario_name(report: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", report.stem.lower()).strip("-")[:40] or "report"


def _description(report: form.BugReport) -> str:
    paragraphs = report.text("problem").split("\n\n")
    first = " ".join(paragraphs[0].split()) if paragraphs[0] else "no description"
    return f"Bug report {report.path.name}: {first}"


def _repro_directory(settings: Settings, name: str) -> Path:
    return settings.make_run_dir("repro", name)


def _scenarios_dir(settings: Settings, directory: Path) -> Path:
    """A scenarios folder of the repro's own, sharing the project's checks, playbooks and fixtures."""
    scenarios_dir = directory / "scenarios"
    scenarios_dir.mkdir()
    for shared in ("shared", "conftest.py"):
        (scenarios_dir / shared).symlink_to(settings.scenarios_dir / shared)
    return scenarios_dir


def save_scenario(settings: Settings, prepared: Prepared, name: str) -> Path:
    """The report's scenario as a folder of the project's scenarios, and a cell of the nightly matrix."""
    if not re.match(scenarios.NAME_RE, name):
        raise HarnessError(f"--save-scenario {name!r}: use lower-case letters, digits and '-' (at most 22)")
    target = settings.scenarios_dir / name
    if target.exists():
        raise HarnessError(f"--save-scenario {name}: {target} exists; choose another name or remove it")
    target.mkdir()
    shutil.copyfile(prepared.settings.scenarios_dir / prepared.name / "scenario.yml", target / "scenario.yml")
    molecule.write_platforms(scenarios.load(settings.scenarios_dir, name))
    matrix_file = settings.scenarios_dir / "matrix.yml"
    if matrix_file.is_file():
        matrix.add_cell(matrix_file, settings.scenarios_dir, name, prepared.ref)
    return target
