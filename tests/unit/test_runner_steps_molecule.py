"""The pure parts of a run: what happened (runner.outcome_of, its precedence), the
ansible-playbook command line of a step (steps.playbook_argv), Molecule's environment.

Events are the ones the harness_events callback recorded in real runs of step
upgrade-kw-1 (tests/data/v2.27.0: failed on kw-1; v2.27.1: passed); variants are derived
from them in the tests.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from harness import context as run_context
from harness import events, molecule, runner, steps
from harness.checks import CheckResults
from harness.context import RunContext
from harness.scenario import Expectation, Scenario, Step
from harness.scenario import load as load_scenario
from harness.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data"
FAILED_EVENTS = events.read_events(DATA / "v2.27.0" / "upgrade-kw-1.events.jsonl")
PASSED_EVENTS = events.read_events(DATA / "v2.27.1" / "upgrade-kw-1.events.jsonl")
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
HAPROXY_TASK = "kubernetes/node : Haproxy | Write haproxy configuration"
CHECKS_PASSED = CheckResults(total=3)


def _step(name: str, rc: int) -> steps.StepResult:
    return steps.StepResult(name, "converge", [], 1.0, rc, f"/logs/{name}.log", f"/logs/{name}.events.jsonl")


def _with_unreachable(recorded: list[dict]) -> list[dict]:
    """The passing run with kw-1 unreachable under ignore_unreachable at its first task."""
    lost = copy.deepcopy(next(e for e in recorded if e["event"] == "ok" and e["host"] == "kw-1"))
    lost.update(event="unreachable", msg="Failed to connect to the host via ssh", ignore_unreachable=True)
    first_ok = recorded.index(next(e for e in recorded if e["event"] == "ok"))
    return [*recorded[:first_ok], lost, *recorded[first_ok:]]


PASSED = [(_step("upgrade-control-plane", 0), PASSED_EVENTS), (_step("upgrade-kw-1", 0), PASSED_EVENTS)]
FAILED = [(_step("upgrade-control-plane", 0), PASSED_EVENTS), (_step("upgrade-kw-1", 2), FAILED_EVENTS)]


@pytest.fixture
def prepare_failed(tmp_path: Path) -> molecule.ActionResult:
    log = tmp_path / "molecule-prepare.log"
    log.write_text("PLAY RECAP\nlocalhost : ok=0 failed=1\nCRITICAL Ansible return code was 2\n")
    return molecule.ActionResult("prepare", 12.0, 2, log)


@pytest.mark.parametrize(
    ("recorded", "checks", "optional", "failed_step", "task"),
    [
        pytest.param(PASSED, CHECKS_PASSED, [], None, None, id="all-passed"),
        pytest.param(FAILED, CheckResults(), [], "upgrade-kw-1", HAPROXY_TASK, id="failed-step-before-unrun-checks"),
        pytest.param(
            [(_step("upgrade-kw-1", 4), [])],
            CheckResults(),
            [],
            "upgrade-kw-1",
            "(no failed task recorded)",
            id="rc-only",
        ),
        pytest.param(
            PASSED,
            CheckResults(
                total=3,
                failed=["test_a[ansible://kw-1]"],
                first_message="AssertionError: /etc/hosts: x",
                problems={"test_a[ansible://kw-1]": "/etc/hosts: x"},
            ),
            [],
            "verify",
            "testinfra: /etc/hosts: x: 1 check(s) on 1 node(s) (kw-1)",
            id="failed-check",
        ),
        pytest.param(PASSED, CheckResults(), [], "verify", "testinfra: no checks ran", id="no-checks-ran"),
        pytest.param(
            PASSED,
            CheckResults(total=2, skipped=["t1", "t2"]),
            [],
            "verify",
            "testinfra: no checks ran",
            id="all-skipped",
        ),
    ],
)
def test_outcome_precedence(recorded, checks, optional, failed_step, task) -> None:
    outcome, _ = runner.outcome_of(recorded, None, checks, optional)

    assert outcome.failed_step == failed_step
    assert (outcome.failure.task if outcome.failure else None) == task


def test_a_failed_step_wins_over_the_molecule_action_that_ran_it(prepare_failed) -> None:
    outcome, log = runner.outcome_of(FAILED, prepare_failed, CheckResults(), [])

    assert (outcome.failed_step, log) == ("upgrade-kw-1", "/logs/upgrade-kw-1.log")


def test_a_molecule_action_failing_outside_the_steps_is_the_failure(prepare_failed) -> None:
    outcome, log = runner.outcome_of([], prepare_failed, CheckResults(), [])

    assert outcome.failed_step == "molecule prepare"
    assert outcome.failure is not None and "CRITICAL Ansible return code was 2" in outcome.failure.message
    assert log == str(prepare_failed.log)


def test_an_ignored_unreachable_host_in_a_passing_run_is_recorded() -> None:
    recorded = [(_step("upgrade-kw-1", 0), _with_unreachable(PASSED_EVENTS))]

    outcome, _ = runner.outcome_of(recorded, None, CHECKS_PASSED, [])

    assert outcome.passed, "Ansible itself went on"
    assert outcome.unreachable is not None and outcome.unreachable.hosts == ("kw-1",)


def test_an_unreachable_host_in_an_earlier_step_is_kept_beside_a_later_failure() -> None:
    recorded = [(_step("upgrade-control-plane", 0), _with_unreachable(PASSED_EVENTS)), FAILED[1]]

    outcome, _ = runner.outcome_of(recorded, None, CheckResults(), [])

    assert outcome.unreachable is not None and outcome.failure is not None
    assert outcome.failure.task == HAPROXY_TASK


@pytest.mark.parametrize(
    ("optional", "skipped"),
    [
        pytest.param([], ("test_haproxy_accepts_the_config[ansible://kw-1]",), id="required"),
        pytest.param(["test_haproxy_accepts_the_config*"], (), id="optional"),
    ],
)
def test_skipped_checks_count_unless_the_scenario_names_them_optional(optional, skipped) -> None:
    checks = CheckResults(total=3, skipped=["test_haproxy_accepts_the_config[ansible://kw-1]"])

    outcome, _ = runner.outcome_of(PASSED, None, checks, optional)

    assert outcome.passed and outcome.checks_skipped == skipped


# --- steps.playbook_argv -----------------------------------------------------------------------


@pytest.fixture
def context(tmp_path: Path) -> RunContext:
    return RunContext(
        scenario="upgrade-node-based",
        ref="v2.27.1",
        sha="45140b558266",
        run_id="abcd1234",
        run_dir=tmp_path / "run",
        worktree=tmp_path / "run" / "kubespray",
        controller_image="kubespray-harness/controller:x",
        node_image="kubespray-harness/node:x",
        lb_image="kubespray-harness/lb:x",
    )


UPGRADE = load_scenario(SCENARIOS, "upgrade-node-based")


def _scenario_step(scenario: Scenario, **fields) -> Step:
    return Step(**{"name": "s", "playbook": "upgrade-cluster.yml", **fields})


@pytest.mark.parametrize(
    ("fields", "options"),
    [
        pytest.param({}, ["--tags", "asserts,facts,etchosts,haproxy"], id="scenario-tags"),
        pytest.param(
            {"limit": "kube_control_plane:etcd"},
            ["--limit", "kube_control_plane:etcd", "--tags", "asserts,facts,etchosts,haproxy"],
            id="limit",
        ),
        pytest.param({"tags": ["nginx"]}, ["--tags", "nginx"], id="own-tags"),
        pytest.param({"tags": []}, [], id="no-tags-at-all"),
        pytest.param(
            {"tags": ["facts"], "skip_tags": ["download", "reset"]},
            ["--tags", "facts", "--skip-tags", "download,reset"],
            id="skip-tags",
        ),
        pytest.param(
            {"tags": [], "extra_vars": {"upgrade_node_confirm": True, "kube_version": "v1.31.4"}},
            ["-e", json.dumps({"upgrade_node_confirm": True, "kube_version": "v1.31.4"})],
            id="extra-vars-as-json",
        ),
        pytest.param(
            {"tags": [], "extra_vars": {"apiserver": "https://<< address('km-1') >>:6443", "n": 1}},
            ["-e", json.dumps({"apiserver": "https://172.19.0.2:6443", "n": 1})],
            id="extra-vars-with-a-node-address",
        ),
    ],
)
def test_playbook_argv(context: RunContext, fields: dict, options: list[str]) -> None:
    hosts = context.inventory_dir / "hosts.yml"

    argv = steps.playbook_argv(context, UPGRADE, _scenario_step(UPGRADE, **fields), hosts, {"km-1": "172.19.0.2"})

    playbook = ["ansible-playbook", "-i", "/harness/run/inventory/hosts.yml", "-b", "upgrade-cluster.yml"]
    assert argv == [*playbook, *options]


# --- molecule ----------------------------------------------------------------------------------


def test_molecule_env_keeps_the_callers_ansible_settings_out(
    context: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANSIBLE_CONFIG", "/somewhere/ansible.cfg")
    monkeypatch.setenv("MOLECULE_EPHEMERAL_DIRECTORY", "/shared/state")

    env = molecule.molecule_env(context)

    assert "ANSIBLE_CONFIG" not in env
    assert env["MOLECULE_EPHEMERAL_DIRECTORY"] == str(context.run_dir / "molecule"), "state per run, never shared"
    assert env["HARNESS_RUN_ID"] == "abcd1234" and env["HARNESS_RUN_DIR"] == str(context.run_dir)


def test_molecule_runs_with_the_harness_environments_tools_first(context: RunContext) -> None:
    env = molecule.molecule_env(context)

    assert Path(env["PATH"].split(":")[0], "molecule").exists(), "molecule calls ansible-config from PATH"


@pytest.mark.parametrize(("lines", "tail"), [(2, "b\nc"), (5, "a\nb\nc"), (0, "")])
def test_log_tail(tmp_path: Path, lines: int, tail: str) -> None:
    log = tmp_path / "x.log"
    log.write_text("a\nb\nc\n")

    assert molecule.log_tail(log, lines) == tail


def test_log_tail_leaves_out_terminal_colours(tmp_path: Path) -> None:
    log = tmp_path / "molecule-prepare.log"
    log.write_text("ERROR    [upgrade-node-based > prepare] \x1b[31mExecuted: Failed\x1b[0m\n")

    assert molecule.log_tail(log, 1) == "ERROR    [upgrade-node-based > prepare] Executed: Failed"


def test_log_tail_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert molecule.log_tail(tmp_path / "absent.log") == ""


def test_the_lifecycle_verifies_only_after_converge_and_destroys_apart() -> None:
    assert molecule.SEQUENCE == ("create", "converge", "verify")


def test_molecule_converge_prepares_first_so_the_deploy_still_runs() -> None:
    config = yaml.safe_load(molecule.BASE_CONFIG.read_text())
    sequence = config["scenario"]["converge_sequence"]
    assert sequence.index("prepare") < sequence.index("converge"), sequence


def test_stop_run_processes_kills_the_runs_processes_even_outside_its_process_group() -> None:
    # Like an Ansible async job: its own session, the run's id in its environment.
    env = {**os.environ, "HARNESS_RUN_ID": "unit-test-run"}
    ours = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    other = subprocess.Popen(["sleep", "60"], env={**env, "HARNESS_RUN_ID": "another-run"}, start_new_session=True)
    try:
        assert molecule.stop_run_processes("unit-test-run") == 1
        assert ours.wait(timeout=5) == -signal.SIGKILL
        assert other.poll() is None, "another run's process is left alone"
    finally:
        other.kill()
        ours.kill()


def test_a_runs_network_is_internal_when_egress_is_not_allowed(context: RunContext) -> None:
    assert molecule.molecule_env(context)["HARNESS_NETWORK_INTERNAL"] == "false"
    sealed = dataclasses.replace(context, allow_egress=False)
    assert molecule.molecule_env(sealed)["HARNESS_NETWORK_INTERNAL"] == "true"


@pytest.mark.parametrize(
    ("sealed", "allow_egress", "scenario_egress", "allowed"),
    [
        pytest.param(False, False, False, True, id="a-scenario-of-the-project"),
        pytest.param(True, False, False, False, id="a-strangers-report"),
        pytest.param(True, True, False, True, id="a-report-with-allow-egress"),
        pytest.param(True, False, True, True, id="a-report-whose-scenario-needs-egress"),
    ],
)
def test_only_a_sealed_run_is_cut_off_unless_opened(
    sealed: bool, allow_egress: bool, scenario_egress: bool, allowed: bool
) -> None:
    settings = dataclasses.replace(Settings.from_env({}), sealed=sealed, allow_egress=allow_egress)
    scenario = UPGRADE.model_copy(update={"egress": scenario_egress})
    assert run_context.egress_allowed(settings, scenario) is allowed


def test_a_saved_context_keeps_whether_egress_is_allowed(context: RunContext) -> None:
    context.run_dir.mkdir(parents=True)
    for allowed in (False, True):
        dataclasses.replace(context, allow_egress=allowed).save()
        assert RunContext.load(context.run_dir).allow_egress is allowed


# --- an upgrade across releases (--from) --------------------------------------------------------


def _upgrade_context(context: RunContext) -> RunContext:
    return dataclasses.replace(
        context,
        from_ref="v2.26.0",
        from_sha="f9ebd45c7496",
        from_worktree=str(context.run_dir / "kubespray-from"),
        from_controller_image="kubespray-harness/controller:old",
    )


def test_an_upgrade_across_releases_deploys_with_the_old_release_and_upgrades_with_the_new(context) -> None:
    upgrade = _upgrade_context(context)
    deploy, upgrade_kw_1 = UPGRADE.steps[0], UPGRADE.steps[2]

    old = upgrade.for_step(deploy)
    new = upgrade.for_step(upgrade_kw_1)

    assert (old.ref, old.sha, old.worktree, old.controller_image) == (
        "v2.26.0",
        "f9ebd45c7496",
        context.run_dir / "kubespray-from",
        "kubespray-harness/controller:old",
    )
    assert (new.ref, new.sha, new.worktree, new.controller_image) == (
        "v2.27.1",
        "45140b558266",
        context.worktree,
        "kubespray-harness/controller:x",
    )
    assert old.facts_dir == new.facts_dir and old.inventory_dir == new.inventory_dir  # carried over


def test_a_step_may_say_which_release_it_runs_with(context) -> None:
    upgrade = _upgrade_context(context)

    assert upgrade.for_step(Step(name="s", playbook="facts.yml", ref="from")).ref == "v2.26.0"
    assert upgrade.for_step(Step(name="s", playbook="cluster.yml", phase="prepare", ref="to")).ref == "v2.27.1"


def test_without_from_every_step_runs_at_the_ref(context) -> None:
    assert [context.for_step(step) for step in UPGRADE.steps] == [context] * len(UPGRADE.steps)
    assert context.worktrees == [context.worktree]
    assert _upgrade_context(context).worktrees == [context.worktree, context.run_dir / "kubespray-from"]


def test_an_upgrade_across_releases_takes_the_pairs_expectation_before_the_new_releases(tmp_path) -> None:
    pair = Expectation()
    data = UPGRADE.model_copy(update={"expectations": {**UPGRADE.expectations, "v2.26.0 -> v2.27.0": pair}})
    settings = Settings.from_env({"HARNESS_CACHE_DIR": str(tmp_path)})

    assert runner.expectation_for(settings, data, "v2.27.0", "sha", "v2.26.0") is pair
    assert runner.expectation_for(settings, data, "v2.27.1", "sha", "v2.26.0") is UPGRADE.expectations["v2.27.1"]


def test_the_report_names_both_releases_of_an_upgrade_across_releases(tmp_path) -> None:
    result = runner.RunResult("upgrade-node-based", "v2.27.1", "45140b558266" + "0" * 28, "r", tmp_path, Expectation())
    result.from_ref, result.from_sha = "v2.26.0", "f9ebd45c7496" + "0" * 28

    data = result.as_dict()

    assert result.refs == "v2.26.0 -> v2.27.1"
    assert (data["from_ref"], data["from_sha"][:12], data["ref"]) == ("v2.26.0", "f9ebd45c7496", "v2.27.1")
