"""events.first_failure / read_events on recorded callback output, and verdict.decide.

The two event files were recorded by the harness_events callback during real
Kubespray runs of step upgrade-kw-1: v2.27.0 failed on kw-1 at the haproxy
template (fallback_ip undefined), v2.27.1 passed. Variants (ignored, rescued,
unreachable failures) are derived from the recorded events inside each test.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from harness import events, scenario
from harness.events import Failure
from harness.scenario import Expectation, FailureExpectation
from harness.verdict import (
    Outcome,
    ReproVerdict,
    Verdict,
    decide,
    exit_code,
    matches_expectation,
    passed_where_expected,
    repro_verdict,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
FAILED_RUN = REPO_ROOT / "tests" / "data" / "v2.27.0" / "upgrade-kw-1.events.jsonl"
PASSED_RUN = REPO_ROOT / "tests" / "data" / "v2.27.1" / "upgrade-kw-1.events.jsonl"

HAPROXY_TASK = "kubernetes/node : Haproxy | Write haproxy configuration"


def _recorded_failed_event() -> dict[str, Any]:
    """The one `failed` event of the recorded v2.27.0 run, as a fresh copy."""
    (event,) = [e for e in events.read_events(FAILED_RUN) if e["event"] == "failed"]
    return copy.deepcopy(event)


def _insert_before_stats(recorded: list[dict[str, Any]], *extra: dict[str, Any]) -> list[dict[str, Any]]:
    assert recorded[-1]["event"] == "stats"
    return [*recorded[:-1], *extra, recorded[-1]]


def _without_stats(recorded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As if the run was cut short before Ansible printed its recap."""
    return [e for e in recorded if e["event"] != "stats"]


# --- events.read_events / first_failure on the recorded runs ---------------------------------


def test_read_events_reads_every_recorded_line() -> None:
    recorded = events.read_events(FAILED_RUN)

    assert len(recorded) == len(FAILED_RUN.read_text().splitlines())
    assert recorded[-1]["event"] == "stats"


def test_read_events_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert events.read_events(tmp_path / "absent.events.jsonl") == []


def test_read_events_tolerates_a_truncated_last_line(tmp_path: Path) -> None:
    lines = FAILED_RUN.read_text().splitlines()
    # A run stopped by Ctrl-C while the callback was writing its last line:
    # the recorded lines, then the recorded stats line cut in half.
    cut = lines[-1][: len(lines[-1]) // 2]
    path = tmp_path / "upgrade-kw-1.events.jsonl"
    path.write_text("\n".join([*lines[:-1], cut]))

    read = events.read_events(path)

    assert len(read) == len(lines) - 1
    assert [e["event"] for e in read] == [e["event"] for e in events.read_events(FAILED_RUN)[:-1]]


def test_first_failure_still_found_when_the_last_line_is_truncated(tmp_path: Path) -> None:
    lines = FAILED_RUN.read_text().splitlines()
    path = tmp_path / "upgrade-kw-1.events.jsonl"
    path.write_text("\n".join([*lines[:-1], lines[-1][:40]]))

    failure = events.first_failure(events.read_events(path))

    assert failure is not None
    assert failure.task == HAPROXY_TASK


def test_first_failure_names_task_host_and_message_of_the_recorded_failed_run() -> None:
    failure = events.first_failure(events.read_events(FAILED_RUN))

    assert failure is not None
    assert failure.task == HAPROXY_TASK
    assert failure.hosts == ("kw-1",)
    assert "fallback_ip" in failure.message


def test_first_failure_is_none_for_the_recorded_passing_run() -> None:
    assert events.first_failure(events.read_events(PASSED_RUN)) is None


def test_first_failure_of_no_events_is_none() -> None:
    assert events.first_failure([]) is None


def test_first_failure_skips_an_ignored_failure() -> None:
    recorded = events.read_events(FAILED_RUN)
    # Derived: the recorded failure, renamed and marked ignore_errors, placed
    # before the real one. kw-1 still ends with failures=1 in the recorded stats,
    # so only the ignore_errors flag can make first_failure skip it.
    ignored = _recorded_failed_event()
    ignored.update(task="kubernetes/preinstall : an ignored check", msg="ignored problem", ignore_errors=True)
    real_index = next(i for i, e in enumerate(recorded) if e["event"] == "failed")
    with_ignored = [*recorded[:real_index], ignored, *recorded[real_index:]]

    failure = events.first_failure(with_ignored)

    assert failure is not None
    assert failure.task == HAPROXY_TASK
    assert "fallback_ip" in failure.message


def test_first_failure_skips_an_ignored_failure_when_the_run_has_no_stats() -> None:
    # Derived: the recorded failure marked ignore_errors, stats line removed.
    ignored = _recorded_failed_event()
    ignored["ignore_errors"] = True
    recorded = _without_stats(events.read_events(PASSED_RUN))

    assert events.first_failure([*recorded, ignored]) is None


def test_first_failure_skips_a_failure_rescued_on_a_host_without_failures_at_the_end() -> None:
    # Derived: the recorded v2.27.0 failure inserted into the passing v2.27.1
    # run, whose final stats show kw-1 with failures=0 (as after a rescue).
    recorded = events.read_events(PASSED_RUN)
    stats = copy.deepcopy(recorded[-1])
    stats["hosts"]["kw-1"]["rescued"] = 1
    assert stats["hosts"]["kw-1"]["failures"] == 0
    rescued_run = [*recorded[:-1], _recorded_failed_event(), stats]

    assert events.first_failure(rescued_run) is None


def test_first_failure_counts_a_failure_when_the_run_never_reached_its_stats() -> None:
    # Derived: same rescued-looking failure, but no stats line to prove a rescue.
    cut_short = [*_without_stats(events.read_events(PASSED_RUN)), _recorded_failed_event()]

    failure = events.first_failure(cut_short)

    assert failure is not None
    assert failure.task == HAPROXY_TASK


def test_first_failure_reports_an_unreachable_host() -> None:
    # Derived: the recorded failure turned into an `unreachable` event and the
    # recorded stats adjusted to match (unreachable=1, failures=0).
    recorded = events.read_events(FAILED_RUN)
    unreachable = _recorded_failed_event()
    unreachable.update(event="unreachable", msg="Failed to connect to the host via docker")
    stats = copy.deepcopy(recorded[-1])
    stats["hosts"]["kw-1"].update(failures=0, unreachable=1)
    run = _insert_before_stats([*[e for e in recorded if e["event"] != "failed"][:-1], stats], unreachable)

    failure = events.first_failure(run)

    assert failure is not None
    assert failure.host == "kw-1"
    assert failure.message == "Failed to connect to the host via docker"


def test_first_failure_falls_back_to_stderr_when_msg_is_empty() -> None:
    # Derived: the recorded failure with its msg moved to stderr.
    recorded = events.read_events(FAILED_RUN)
    failed = _recorded_failed_event()
    failed.update(msg="", stderr="command said no")
    run = _insert_before_stats([e for e in recorded if e["event"] != "failed"], failed)

    failure = events.first_failure(run)

    assert failure is not None
    assert failure.message == "command said no"


def test_first_failure_skips_a_rescued_failure_on_a_host_that_fails_later() -> None:
    # Derived: a rescued failure (renamed copy of the recorded one) before the
    # real recorded failure; stats show kw-1 with rescued=1 and failures=1.
    recorded = events.read_events(FAILED_RUN)
    rescued = _recorded_failed_event()
    rescued.update(task="kubernetes/preinstall : a task inside a block with rescue", msg="rescued problem")
    stats = copy.deepcopy(recorded[-1])
    stats["hosts"]["kw-1"]["rescued"] = 1
    real_index = next(i for i, e in enumerate(recorded) if e["event"] == "failed")
    run = [*recorded[:real_index], rescued, *recorded[real_index:-1], stats]

    failure = events.first_failure(run)

    assert failure is not None
    assert failure.task == HAPROXY_TASK


def test_first_failure_lists_every_host_that_failed_at_the_same_task() -> None:
    # Derived: the recorded kw-1 failure copied for kw-2, right after it, with stats to match.
    recorded = events.read_events(FAILED_RUN)
    on_kw2 = _recorded_failed_event()
    on_kw2["host"] = "kw-2"
    stats = copy.deepcopy(recorded[-1])
    stats["hosts"]["kw-2"] = dict(stats["hosts"]["kw-1"])
    real_index = next(i for i, e in enumerate(recorded) if e["event"] == "failed")
    run = [*recorded[: real_index + 1], on_kw2, *recorded[real_index + 1 : -1], stats]

    failure = events.first_failure(run)

    assert failure is not None
    assert failure.hosts == ("kw-1", "kw-2")


def test_first_failure_keeps_a_later_task_s_failures_apart() -> None:
    # Derived: kw-2 fails at another task (a new task_start) after kw-1's recorded failure.
    recorded = events.read_events(FAILED_RUN)
    later_start = {"event": "task_start", "play": "p", "task": "kubernetes/node : a later task"}
    later = _recorded_failed_event()
    later.update(host="kw-2", task="kubernetes/node : a later task", msg="later problem")
    stats = copy.deepcopy(recorded[-1])
    stats["hosts"]["kw-2"] = dict(stats["hosts"]["kw-1"])

    failure = events.first_failure([*recorded[:-1], later_start, later, stats])

    assert failure is not None
    assert (failure.task, failure.hosts) == (HAPROXY_TASK, ("kw-1",))


def test_a_failure_without_msg_keeps_its_rc_and_module_output() -> None:
    # Derived: the recorded failure as a module crash: no msg, only module_stdout and rc.
    failed = _recorded_failed_event()
    failed.update(msg="", stderr="", module_stdout="Traceback: boom", exception="", rc=1)
    run = _insert_before_stats([e for e in events.read_events(FAILED_RUN) if e["event"] != "failed"], failed)

    failure = events.first_failure(run)

    assert failure is not None
    assert (failure.message, failure.rc) == ("Traceback: boom", 1)


def test_unreachable_finds_an_ignored_unreachable_host() -> None:
    # Derived: an unreachable event under ignore_unreachable inserted into the passing run,
    # whose stats stay clean (Ansible counts an ignored unreachable as ok).
    recorded = events.read_events(PASSED_RUN)
    lost = _recorded_failed_event()
    lost.update(event="unreachable", msg="Failed to connect to the host via ssh", ignore_unreachable=True)

    assert events.first_failure(_insert_before_stats(recorded, lost)) is None
    found = events.unreachable(_insert_before_stats(recorded, lost))
    assert found is not None
    assert (found.hosts, found.message) == (("kw-1",), "Failed to connect to the host via ssh")


def test_unreachable_is_none_for_the_recorded_runs() -> None:
    assert events.unreachable(events.read_events(FAILED_RUN)) is None
    assert events.unreachable(events.read_events(PASSED_RUN)) is None


# --- verdict.decide ---------------------------------------------------------------------------

RECORDED_FAILURE: Failure | None = events.first_failure(events.read_events(FAILED_RUN))
assert RECORDED_FAILURE is not None


def _expect_fail(**changes: Any) -> Expectation:
    """The upgrade scenario's v2.27.0 expectation, with some fields changed."""
    fields = {"task": HAPROXY_TASK, "step": "upgrade-kw-1", "hosts": ["kw-1"], "message": "fallback_ip", **changes}
    return Expectation(fail=FailureExpectation(**fields))


def _failed(step: str = "upgrade-kw-1", **changes: Any) -> Outcome:
    """The recorded v2.27.0 failure, with some fields changed."""
    assert RECORDED_FAILURE is not None
    return Outcome(failed_step=step, failure=dataclasses.replace(RECORDED_FAILURE, **changes))


def _ran(step: str, recorded: list[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    return {(step, task, host): status for (task, host), status in events.task_runs(recorded).items()}


EXPECT_PASS = Expectation()
PASSED = Outcome()
# The recorded v2.27.1 step, in which the HAProxy task ran (and succeeded) on kw-1.
RAN = _ran("upgrade-kw-1", events.read_events(PASSED_RUN))
PASSED_WHERE_EXPECTED = Outcome(task_runs=RAN)
FAILED = _failed()
UNREACHABLE_KW1 = dataclasses.replace(RECORDED_FAILURE, message="Failed to connect to the host via ssh")


@pytest.mark.parametrize(
    ("expectation", "outcome", "verdict"),
    [
        pytest.param(EXPECT_PASS, PASSED, Verdict.PASSED, id="pass-expected-and-passed"),
        pytest.param(EXPECT_PASS, FAILED, Verdict.UNEXPECTED_FAILURE, id="pass-expected-but-failed"),
        pytest.param(_expect_fail(), FAILED, Verdict.EXPECTED_FAILURE, id="same-task-step-host-message"),
        pytest.param(_expect_fail(task=f"  {HAPROXY_TASK} "), FAILED, Verdict.EXPECTED_FAILURE, id="task-padded"),
        pytest.param(_expect_fail(message="no such text"), FAILED, Verdict.UNEXPECTED_FAILURE, id="other-message"),
        pytest.param(
            _expect_fail(task="kubernetes/control-plane : kubeadm | Upgrade other masters"),
            FAILED,
            Verdict.UNEXPECTED_FAILURE,
            id="other-task",
        ),
        pytest.param(_expect_fail(), _failed(step="upgrade-kw-2"), Verdict.UNEXPECTED_FAILURE, id="other-step"),
        pytest.param(_expect_fail(), _failed(hosts=("kw-2",)), Verdict.UNEXPECTED_FAILURE, id="other-host"),
        pytest.param(_expect_fail(), _failed(hosts=("kw-1", "kw-2")), Verdict.UNEXPECTED_FAILURE, id="one-host-more"),
        pytest.param(
            _expect_fail(more_hosts_may_fail=True),
            _failed(hosts=("kw-1", "kw-2")),
            Verdict.EXPECTED_FAILURE,
            id="one-host-more-than-a-report-pasted",
        ),
        pytest.param(
            _expect_fail(more_hosts_may_fail=True, hosts=["kw-1", "kw-3"]),
            _failed(hosts=("kw-1", "kw-2")),
            Verdict.UNEXPECTED_FAILURE,
            id="a-reported-host-that-did-not-fail",
        ),
        pytest.param(
            _expect_fail(hosts=["kw-2", "kw-1"]),
            _failed(hosts=("kw-1", "kw-2")),
            Verdict.EXPECTED_FAILURE,
            id="every-expected-host-in-any-order",
        ),
        pytest.param(
            _expect_fail(message=None, rc=2), _failed(rc=2), Verdict.EXPECTED_FAILURE, id="rc-when-no-message"
        ),
        pytest.param(_expect_fail(message=None, rc=2), _failed(rc=1), Verdict.UNEXPECTED_FAILURE, id="other-rc"),
        pytest.param(
            _expect_fail(),
            Outcome(failed_step="upgrade-kw-1", failure=None),
            Verdict.UNEXPECTED_FAILURE,
            id="no-failure-event",
        ),
        pytest.param(_expect_fail(), PASSED_WHERE_EXPECTED, Verdict.UNEXPECTED_PASS, id="fail-expected-but-passed"),
        pytest.param(_expect_fail(), PASSED, Verdict.NOT_EXERCISED, id="fail-expected-but-the-task-never-ran"),
        pytest.param(EXPECT_PASS, Outcome(unreachable=UNREACHABLE_KW1), Verdict.UNREACHABLE, id="unreachable-passed"),
        pytest.param(
            _expect_fail(),
            Outcome("upgrade-kw-1", RECORDED_FAILURE, unreachable=UNREACHABLE_KW1),
            Verdict.UNREACHABLE,
            id="unreachable-beside-the-expected-failure",
        ),
        pytest.param(
            EXPECT_PASS, Outcome(checks_skipped=("test_x[ansible://kw-1]",)), Verdict.CHECKS_SKIPPED, id="skipped"
        ),
        pytest.param(
            _expect_fail(),
            Outcome(checks_skipped=("test_x",), task_runs=RAN),
            Verdict.CHECKS_SKIPPED,
            id="skipped-fail-expected",
        ),
    ],
)
def test_decide(expectation: Expectation, outcome: Outcome, verdict: Verdict) -> None:
    assert decide(expectation, outcome).verdict is verdict


def test_decide_message_match_is_a_substring_match() -> None:
    assert RECORDED_FAILURE is not None
    assert RECORDED_FAILURE.message != "fallback_ip"  # the recorded message says much more

    assert decide(_expect_fail(message="fallback_ip"), FAILED).verdict is Verdict.EXPECTED_FAILURE


def test_decide_finds_the_expected_message_in_stderr_too() -> None:
    assert decide(_expect_fail(message="said no"), _failed(text="msg\ncommand said no")).verdict is (
        Verdict.EXPECTED_FAILURE
    )


@pytest.mark.parametrize(
    ("outcome", "difference"),
    [
        pytest.param(_failed(step="upgrade-kw-2"), "step: upgrade-kw-2 (expected upgrade-kw-1)", id="step"),
        pytest.param(_failed(hosts=("kw-2",)), "hosts: kw-2 (expected kw-1)", id="host"),
        pytest.param(_failed(text="other words"), "message: does not contain 'fallback_ip'", id="message"),
        pytest.param(_failed(task="x : y"), f"task: 'x : y' (expected {HAPROXY_TASK!r})", id="task"),
    ],
)
def test_a_mismatch_says_what_differed(outcome: Outcome, difference: str) -> None:
    judgement = decide(_expect_fail(), outcome)

    assert judgement.differences == (difference,)


def test_a_task_skipped_by_its_conditions_in_a_recorded_run_is_not_exercised() -> None:
    task = "kubernetes/preinstall : Stop if ip var does not match local ips"  # no `ip` set: skipped
    expectation = Expectation(fail=FailureExpectation(task=task, step="upgrade-kw-1", hosts=["kw-1"], message="x"))

    judgement = decide(expectation, PASSED_WHERE_EXPECTED)

    assert judgement.verdict is Verdict.NOT_EXERCISED
    assert judgement.differences == (
        f"TASK [{task}] was skipped on kw-1 in step upgrade-kw-1 (its conditions were false)",
    )


@pytest.mark.parametrize(
    ("runs", "reason"),
    [
        pytest.param(
            {},
            f"TASK [{HAPROXY_TASK}] did not run in step upgrade-kw-1: it is not in the step's tags",
            id="not-started",
        ),
        pytest.param(
            {**RAN, ("upgrade-kw-1", HAPROXY_TASK, "kw-1"): "skipped"},
            f"TASK [{HAPROXY_TASK}] was skipped on kw-1 in step upgrade-kw-1",
            id="skipped-on-the-host",
        ),
        pytest.param(
            {key: status for key, status in RAN.items() if key[2] != "kw-1"},
            f"TASK [{HAPROXY_TASK}] ran in step upgrade-kw-1 but not on kw-1",
            id="host-not-in-the-play",
        ),
        pytest.param(
            {(step.replace("kw-1", "kw-2"), task, host): status for (step, task, host), status in RAN.items()},
            "did not run in step upgrade-kw-1",
            id="ran-in-another-step",
        ),
    ],
)
def test_a_pass_where_the_expected_task_never_ran_is_not_exercised_and_says_why(
    runs: dict[tuple[str, str, str], str], reason: str
) -> None:
    judgement = decide(_expect_fail(), Outcome(task_runs=runs))

    assert judgement.verdict is Verdict.NOT_EXERCISED
    assert reason in judgement.differences[0], judgement.differences


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"message": ""}, id="empty-message"),
        pytest.param({"message": "  "}, id="blank-message"),
        pytest.param({"message": None}, id="no-message-no-rc"),
        pytest.param({"hosts": []}, id="no-hosts"),
        pytest.param({"step": ""}, id="no-step"),
    ],
)
def test_a_failure_expectation_that_would_match_anything_is_refused(fields: dict[str, Any]) -> None:
    base = {"task": HAPROXY_TASK, "step": "upgrade-kw-1", "hosts": ["kw-1"], "message": "fallback_ip"}
    with pytest.raises(ValidationError, match=r"message|hosts|step"):
        FailureExpectation(**{**base, **fields})


@pytest.mark.parametrize(
    ("ref", "outcome", "verdict"),
    [
        pytest.param("v2.27.0", FAILED, Verdict.EXPECTED_FAILURE, id="v2.27.0-recorded-failure"),
        pytest.param("v2.27.1", PASSED, Verdict.PASSED, id="v2.27.1-passed"),
        pytest.param("v2.27.1", FAILED, Verdict.UNEXPECTED_FAILURE, id="v2.27.1-recorded-failure"),
        pytest.param("v2.27.0", PASSED_WHERE_EXPECTED, Verdict.UNEXPECTED_PASS, id="v2.27.0-passed"),
        pytest.param("v2.27.0", _failed(hosts=("kw-2",)), Verdict.UNEXPECTED_FAILURE, id="v2.27.0-on-kw-2"),
    ],
)
def test_decide_with_the_real_scenario_expectations(ref: str, outcome: Outcome, verdict: Verdict) -> None:
    expectation = scenario.load(REPO_ROOT / "scenarios", "upgrade-node-based").expectations[ref]

    assert decide(expectation, outcome).verdict is verdict


@pytest.mark.parametrize(
    ("verdict", "matches"),
    [
        (Verdict.PASSED, True),
        (Verdict.EXPECTED_FAILURE, True),
        (Verdict.UNEXPECTED_FAILURE, False),
        (Verdict.UNEXPECTED_PASS, False),
        (Verdict.UNREACHABLE, False),
        (Verdict.CHECKS_SKIPPED, False),
        (Verdict.NOT_EXERCISED, False),
    ],
)
def test_matches_expectation(verdict: Verdict, matches: bool) -> None:
    assert matches_expectation(verdict) is matches


@pytest.mark.parametrize(
    ("mismatched", "code"),
    [
        pytest.param([], 0, id="all-match"),
        pytest.param(["not-exercised"], 3, id="only-not-exercised"),
        pytest.param(["not-exercised", "not-exercised"], 3, id="several-not-exercised"),
        pytest.param(["not-exercised", "unexpected-pass"], 1, id="not-exercised-and-a-real-mismatch"),
        pytest.param(["error"], 1, id="error"),
    ],
)
def test_exit_code_tells_not_exercised_apart(mismatched: list[str], code: int) -> None:
    assert exit_code(mismatched) == code


def test_every_verdict_has_a_headline_of_its_own() -> None:
    headlines = [verdict.headline for verdict in Verdict]

    assert len(set(headlines)) == len(Verdict)


@pytest.mark.parametrize(
    ("verdict", "repro"),
    [
        (Verdict.EXPECTED_FAILURE, ReproVerdict.REPRODUCED),
        (Verdict.UNEXPECTED_PASS, ReproVerdict.NOT_REPRODUCED),
        (Verdict.UNEXPECTED_FAILURE, ReproVerdict.FAILED_ELSEWHERE),
        (Verdict.UNREACHABLE, ReproVerdict.INCONCLUSIVE),
        (Verdict.CHECKS_SKIPPED, ReproVerdict.INCONCLUSIVE),
        (Verdict.NOT_EXERCISED, ReproVerdict.NOT_EXERCISED),
    ],
)
def test_repro_verdict_never_calls_what_was_not_seen_not_reproduced(verdict: Verdict, repro: ReproVerdict) -> None:
    assert repro_verdict(verdict) is repro


def test_the_expected_task_passed_where_it_ran_and_failed_nowhere_expected() -> None:
    failed_there = _ran("upgrade-kw-1", events.read_events(FAILED_RUN))
    expected = _expect_fail().fail
    assert expected is not None

    assert passed_where_expected(expected, PASSED_WHERE_EXPECTED)
    assert failed_there[("upgrade-kw-1", HAPROXY_TASK, "kw-1")] == "failed"
    assert not passed_where_expected(expected, Outcome(task_runs=failed_there))


# kubespray#12220 replayed at 973bd2e52 (recorded by the harness): the symlink task failed on
# both control planes, each naming its own certificate.
SEPARATE_ETCD_RUN = REPO_ROOT / "tests" / "data" / "973bd2e52" / "cluster-separate-etcd.events.jsonl"


def test_a_failure_on_several_hosts_holds_what_each_host_said() -> None:
    failure = events.first_failure(events.read_events(SEPARATE_ETCD_RUN))

    assert failure is not None
    assert sorted(failure.hosts) == ["control-001", "control-002"]
    for host in failure.hosts:
        assert f"create the link: /etc/ssl/etcd/ssl/node-{host}.pem" in failure.text, failure.text
