"""Bad input on the command line: one clear line on stderr and exit code 2, before anything starts."""

from __future__ import annotations

import pytest
import requests

from harness import cli, ownership

FULL_FAILURE = [
    "run", "upgrade-node-based", "--ref", "v2.27.1", "--expect-fail-task", "t", "--expect-fail-step", "upgrade-kw-1",
    "--expect-fail-host", "kw-1", "--expect-fail-message", "m",
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (
            ["run", "no-such-scenario"],
            "unknown scenario 'no-such-scenario': available are "
            "scale-limit, scale-limit-external-lb, upgrade-node-based",
        ),
        (
            ["run", "upgrade-node-based", "--ref", "v2.27.1", "--expect-fail-task", "x"],
            "names its task, step, host(s) and message: add --expect-fail-step --expect-fail-host "
            "--expect-fail-message",
        ),
        (
            [*FULL_FAILURE[:-2], "--expect-fail-message", ""],
            "add --expect-fail-message",
        ),
        (
            ["run", "upgrade-node-based", "--expect", "pass", *FULL_FAILURE[4:]],
            "--expect pass contradicts --expect-fail-task",
        ),
        (
            [*FULL_FAILURE, "--expect-fail-step", "no-such-step"],
            "step 'no-such-step' is not a step of scenario upgrade-node-based",
        ),
        (
            [*FULL_FAILURE, "--expect-fail-host", "kw-9"],
            "host(s) kw-9 are not Kubespray hosts of scenario upgrade-node-based at step upgrade-kw-1",
        ),
    ],
)
def test_bad_run_arguments_exit_2_with_one_line(argv, problem, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert problem in err
    assert len(err.strip().splitlines()) == 1, err


def test_missing_kubespray_source_exits_2_naming_the_setting(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KUBESPRAY_REPO", str(tmp_path / "no-clone-here"))
    assert cli.main(["run", "upgrade-node-based", "--ref", "v2.27.1"]) == 2
    err = capsys.readouterr().err
    assert "KUBESPRAY_REPO=" in err and "neither a URL nor an existing path" in err


@pytest.mark.parametrize("command", [["run", "s"], ["matrix"], ["repro", "r.md"]])
def test_patch_and_cherry_pick_apply_in_the_order_given(command):
    args = cli._parser().parse_args([*command, "--cherry-pick", "abc1234", "--patch", "fix.diff", "--cherry-pick", "d"])
    assert args.changes == [("cherry-pick", "abc1234"), ("patch", "fix.diff"), ("cherry-pick", "d")]


def test_down_refuses_what_is_not_a_run_id(capsys) -> None:
    assert cli.main(["down", "*"]) == 2
    assert "'*' is not a run id" in capsys.readouterr().err


def test_a_cache_directory_that_cannot_be_made_exits_2_with_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", "/proc/kubespray-harness-cache")  # nobody may make it

    code = cli.main(["run", "upgrade-node-based", "--ref", "v2.27.1"])

    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: No such file or directory: /proc/kubespray-harness-cache; check that"), err
    assert len(err.splitlines()) == 1


def test_an_engine_that_stops_answering_mid_command_is_one_line_and_exit_2(monkeypatch, capsys) -> None:
    def engine_gone(*_args, **_kwargs):
        raise requests.exceptions.ConnectionError("Connection aborted.")  # as the SDK lets it through

    monkeypatch.setattr(ownership, "gc", engine_gone)

    code = cli.main(["gc"])

    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == (
        "error: the Docker engine stopped answering (ConnectionError); start it again, "
        "then `harness gc` removes what the run left"
    )
