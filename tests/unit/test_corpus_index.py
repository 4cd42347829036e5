"""The corpus of real reports (tests/data/reports/corpus): its index, and every report read by
repro's own stages (form, inventory, commands, reported failure) before any container."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import corpus
from harness.errors import HarnessError
from harness.repro import commands, form, output
from harness.repro import inventory as report_inventory

CASES = corpus.load(corpus.DEFAULT_INDEX)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_report_of_the_corpus_reads_as_a_repro(case: corpus.Case) -> None:
    report = form.read(corpus.DEFAULT_INDEX.parent / case.report)

    failure = output.reported_failure(report.code("ansible_output"))
    inventory = report_inventory.read(report)
    replayed = commands.from_report(report.code("ansible_command"), [], "commands")

    assert failure.task and failure.hosts and (failure.message or failure.rc is not None)
    assert set(failure.hosts) <= {host.name for host in inventory.hosts}
    assert replayed.commands, "at least one ansible-playbook line"
    assert case.issue in report.path.read_text(), "the original is linked"


def test_the_corpus_names_each_case_once_with_both_commits() -> None:
    names = [case.name for case in CASES]

    assert len(names) == len(set(names))
    assert all(case.buggy != case.fixed for case in CASES)


def test_a_case_without_its_report_is_refused_in_one_line(tmp_path: Path) -> None:
    index = tmp_path / "corpus.yml"
    index.write_text("cases:\n  - {name: x, report: gone.md, issue: i, fix: f, buggy: a, fixed: b}\n")

    with pytest.raises(HarnessError, match=r"case x: no report gone\.md beside the index"):
        corpus.load(index)


def test_the_table_puts_both_replays_of_a_case_on_one_row() -> None:
    case = CASES[0]
    replays = [corpus.Replay(case, "buggy", Path("r.md")), corpus.Replay(case, "fixed", Path("r.md"))]
    replays[0].repro, replays[0].seconds = {"verdict": "reproduced"}, 100.0
    replays[1].repro, replays[1].seconds = {"verdict": "not-exercised"}, 200.0

    table = corpus.markdown(replays)

    row = table.splitlines()[2]
    assert row.startswith(f"| {case.name} |")
    assert f"| {case.buggy} | reproduced | 100 | {case.fixed} | not-exercised ✗ | 200 |" in row


def test_a_fixed_replay_that_stopped_beyond_containers_after_the_reported_task_passed_matches_as_a_cell() -> None:
    case = next(case for case in CASES if case.name == "etcd-cert-symlinks")
    replay = corpus.Replay(case, "fixed", Path("r.md"))
    stopped = (
        "TASK [etcd : Gen_certs | Pretend ...] ran on control-001 and passed; then TASK [etcdctl_etcdutl : ...] failed"
    )
    replay.repro = {
        "verdict": "not-reproduced",
        "stopped_beyond_containers": stopped,
        "run": {"verdict": "unexpected-failure"},
    }
    failed_elsewhere = corpus.Replay(case, "fixed", Path("r.md"))
    failed_elsewhere.repro = {"verdict": "failed-elsewhere", "run": {"verdict": "unexpected-failure"}}

    assert replay.holds and replay.cell().matches
    assert not failed_elsewhere.holds and not failed_elsewhere.cell().matches
