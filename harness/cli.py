"""The `harness` command: thin over the library; its errors are caught once, in harness.command.

Exit codes: 0 every verdict matches its expectation; 1 a verdict does not;
2 bad input or a broken environment; 3 the only mismatches are expected failures
whose task never ran (not exercised); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.live import Live

from harness import (
    bench,
    bisect,
    command,
    corpus,
    deploys,
    images,
    lifecycle,
    matrix,
    molecule,
    nightly,
    ownership,
    report,
    runner,
)
from harness import scenario as scenarios
from harness.errors import (
    EXIT_CANNOT_REPRODUCE_HERE,
    EXIT_MISMATCH,
    EXIT_NOT_EXERCISED,
    HarnessError,
)
from harness.kubespray import source
from harness.repro import reproduce
from harness.scenario import Expectation, FailureExpectation
from harness.settings import Settings
from harness.verdict import exit_code

REPRO_EXIT_CODES = {
    "reproduced": 0,
    "not-exercised": EXIT_NOT_EXERCISED,
    "cannot-reproduce-here": EXIT_CANNOT_REPRODUCE_HERE,
}


def _add_egress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-egress",
        action="store_true",
        help="let the run's nodes and controller reach beyond each other (e.g. Debian's mirror); default: they cannot",
    )


def _add_reuse_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-reuse",
        action="store_true",
        help="with --from: deploy the old release afresh, not from the saved deploy (harness deploys lists them)",
    )


def main(argv: list[str] | None = None) -> int:
    return command.execute(_parser().parse_args(argv))


class _AppendChange(argparse.Action):
    """--patch and --cherry-pick into one list, in the order given: changes apply in that order."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        kind = "patch" if option_string == "--patch" else "cherry-pick"
        namespace.changes = [*(getattr(namespace, "changes", None) or []), (kind, values)]


def _add_format_options(parser: argparse.ArgumentParser) -> None:
    for output in report.FORMATS:
        parser.add_argument(output.option, type=Path, metavar="FILE", help=f"write {output.what}")


def _add_change_options(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(changes=[])
    parser.add_argument(
        "--patch", action=_AppendChange, metavar="FILE.diff", help="apply this diff to the ref's worktree first"
    )
    parser.add_argument(
        "--cherry-pick", action=_AppendChange, metavar="SHA", help="apply this Kubespray commit to the worktree first"
    )


def _changes(args: argparse.Namespace, settings: Settings) -> tuple[source.Change, ...]:
    return tuple(
        source.patch_change(Path(value)) if kind == "patch" else source.cherry_pick_change(settings, value)
        for kind, value in args.changes
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a scenario on one or more Kubespray refs")
    run.add_argument("scenario")
    run.add_argument(
        "--ref", action="append", help="tag, branch or sha (repeatable); default: the scenario's default_refs"
    )
    run.add_argument(
        "--from",
        dest="upgrade_from",
        metavar="REF",
        help="upgrade across releases: the deploy (and steps with `ref: from`) runs at this older release, "
        "the rest at --ref",
    )
    run.add_argument("--report-json", type=Path, help="write the result(s) as JSON here")
    run.add_argument("--expect", choices=["pass"], help="expectation for a ref the scenario has none for")
    run.add_argument("--expect-fail-task", help="expected failing task, as Ansible names it ('role : task')")
    run.add_argument("--expect-fail-step", help="the scenario step the expected failure happens in")
    run.add_argument(
        "--expect-fail-host", action="append", default=[], help="a host the task fails on (repeatable: all of them)"
    )
    run.add_argument("--expect-fail-message", help="substring of the expected failure message")
    run.add_argument(
        "--keep", action="store_true", help="leave the nodes up after the verdict (harness down RUN_ID removes them)"
    )
    _add_change_options(run)
    _add_egress_option(run)
    _add_reuse_option(run)
    run.set_defaults(func=_cmd_run)

    mx = sub.add_parser("matrix", help="run scenario x ref cells, N at a time, and report them together")
    mx.add_argument("--matrix", type=Path, help="matrix file (default: scenarios/matrix.yml)")
    mx.add_argument("--only", action="append", default=[], help="shell pattern on scenario@ref (repeatable)")
    mx.add_argument("-j", "--jobs", type=int, default=1, help="cells at a time (each fully isolated)")
    _add_format_options(mx)
    mx.add_argument(
        "--list", action="store_true", help="print the selected cells as JSON and exit (for CI job matrices)"
    )
    mx.add_argument(
        "--baseline",
        type=Path,
        help="last night's --report-json: rerun cells gone bad, bisect regressions, report what changed",
    )
    mx.add_argument(
        "--bisect-budget", type=int, default=8, help="scenario runs each regression's bisection may make (default 8)"
    )
    _add_change_options(mx)
    _add_reuse_option(mx)
    mx.set_defaults(func=_cmd_matrix)

    mr = sub.add_parser(
        "matrix-report",
        help="one report from any of the harness's: report.json, --report-json, repro.json, bisect-result.json",
    )
    mr.add_argument("reports", nargs="+", type=Path)
    _add_format_options(mr)
    mr.add_argument("--baseline", type=Path, help="last night's report: name the cells no longer in the matrix")
    mr.set_defaults(func=_cmd_matrix_report)

    rp = sub.add_parser("repro", help="replay a Kubespray bug report in containers: reproduced or not")
    rp.add_argument("report", type=Path, help="the issue as Markdown (GitHub's issue form) or a YAML report")
    rp.add_argument(
        "--step",
        action="append",
        default=[],
        metavar='"PLAYBOOK [--limit X] [-e K=V]"',
        help="a command to run after the deploy (repeatable, in order); replaces the report's",
    )
    rp.add_argument("--ref", help="run on this ref instead of the report's (e.g. the fixed one)")
    rp.add_argument(
        "--trust-report",
        action="store_true",
        help="run playbooks of the report outside Kubespray's own (contrib/, scripts/); they still run in the sandbox",
    )
    rp.add_argument("--tags", help="comma-separated tags for every step (default: the set that runs offline)")
    rp.add_argument("--save-scenario", metavar="NAME", help="also save the report as scenarios/NAME (and a cell)")
    rp.add_argument("--report-json", type=Path, help="write the verdict as JSON here")
    _add_change_options(rp)
    _add_egress_option(rp)
    rp.set_defaults(func=_cmd_repro)

    co = sub.add_parser(
        "corpus", help="replay the corpus of real bug reports: each reproduced on its buggy commit, not on its fix"
    )
    co.add_argument("--corpus", type=Path, default=corpus.DEFAULT_INDEX, help="the corpus index (corpus.yml)")
    co.add_argument("--only", action="append", default=[], help="shell pattern on a case's name (repeatable)")
    co.add_argument("-j", "--jobs", type=int, default=1, help="replays at a time (each fully isolated)")
    co.add_argument("--table", type=Path, help="write the corpus table (Markdown, as in the README) here")
    _add_format_options(co)
    co.set_defaults(func=_cmd_corpus)

    bs = sub.add_parser("bisect", help="the first commit that broke (or, with --find fix, fixed) a scenario")
    bs.add_argument("scenario")
    bs.add_argument("--good", required=True, help="a commit where the bug is absent (with --find fix: the fixed one)")
    bs.add_argument("--bad", required=True, help="a commit where the bug is present")
    bs.add_argument("--find", choices=sorted(bisect.TERMS), default="regression")
    bs.add_argument(
        "--trust-ends", action="store_true", help="do not run --good and --bad first to check they are what they say"
    )
    bs.add_argument(
        "--from",
        dest="upgrade_from",
        metavar="REF",
        help="find the commit that broke (or fixed) upgrades from this release: each probe deploys at it",
    )
    bs.add_argument("--report-json", type=Path, help="write the result as JSON here")
    _add_reuse_option(bs)
    bs.set_defaults(func=_cmd_bisect)

    probe = sub.add_parser("bisect-probe", help="(called by git bisect run) run one commit of a bisection")
    probe.add_argument("directory", type=Path)
    probe.set_defaults(func=_cmd_bisect_probe)

    dn = sub.add_parser("down", help="remove the nodes, network and worktree of a run (one kept with --keep)")
    dn.add_argument("run_id", help="the run id `harness run` printed (the containers' name suffix)")
    dn.set_defaults(func=_cmd_down)
    gc = sub.add_parser(
        "gc", help="remove what runs whose harness process is gone left: nodes, networks, volumes, worktrees, processes"
    )
    gc.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="RUN_ID",
        help="also remove this labelled run that no harness run here owned (a bare `molecule test`, say)",
    )
    gc.set_defaults(func=_cmd_gc)
    dp = sub.add_parser("deploys", help="list the saved deploys upgrades across releases reuse (--from)")
    dp.add_argument("--remove", action="store_true", help="remove them all, node images and fact caches")
    dp.set_defaults(func=_cmd_deploys)
    bn = sub.add_parser("bench", help="time warm runs phase by phase, what the harness adds to Kubespray's time")
    bn.add_argument("scenario", nargs="?", help="one scenario, with --ref (default: the cases of scenarios/bench.yml)")
    bn.add_argument("--ref", help="the Kubespray ref to run the scenario at")
    bn.add_argument("--runs", type=int, default=bench.DEFAULT_RUNS, help="warm runs per case (default 3)")
    bn.add_argument("--cold", action="store_true", help="first a run from an empty cache and image repository")
    bn.add_argument("--matrix", action="store_true", help="also time bench.yml's matrix cells at -j 1 and -j 2")
    bn.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON (README, Performance)")
    bn.add_argument("--markdown", type=Path, metavar="FILE", help="write the figures as Markdown tables")
    bn.set_defaults(func=_cmd_bench)
    sub.add_parser("images", help="build the node images if their inputs changed").set_defaults(func=_cmd_images)
    sub.add_parser("list", help="list the scenarios").set_defaults(func=_cmd_list)
    sub.add_parser(
        "molecule-files", help="render each scenario's molecule.yml from its scenario.yml (for `molecule test -s`)"
    ).set_defaults(func=_cmd_molecule_files)

    lifecycle.add_commands(sub)  # Molecule's: step, nodes, variables, molecule-dependency
    return parser


FAIL_OPTIONS = ("task", "step", "host", "message")


def _expectation(args: argparse.Namespace) -> Expectation | None:
    given = {name: getattr(args, f"expect_fail_{name}") for name in FAIL_OPTIONS}
    if not any(given.values()):
        return Expectation() if args.expect == "pass" else None
    missing = [f"--expect-fail-{name}" for name, value in given.items() if not value or not str(value).strip()]
    if missing:
        raise HarnessError(f"an expected failure names its task, step, host(s) and message: add {' '.join(missing)}")
    if args.expect:
        raise HarnessError("--expect pass contradicts --expect-fail-task: give one expectation")
    return Expectation(
        fail=FailureExpectation(
            task=args.expect_fail_task,
            step=args.expect_fail_step,
            hosts=args.expect_fail_host,
            message=args.expect_fail_message,
        )
    )


def _cmd_run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    scenario = scenarios.load(settings.scenarios_dir, args.scenario)
    refs = args.ref or scenario.default_refs
    if not refs:
        raise HarnessError(f"scenario {args.scenario} has no default_refs: give --ref REF")
    expectation = _expectation(args)
    changes = _changes(args, settings)
    results = []
    for ref in refs:
        result = runner.run(
            settings,
            args.scenario,
            ref,
            expectation,
            progress=command.progress(console),
            changes=changes,
            keep=args.keep,
            upgrade_from=args.upgrade_from,
        )
        report.print_summary(console, result)
        results.append(result)
    if len(results) > 1:
        report.print_table(console, results)
    if args.report_json:
        report.write_json(results, args.report_json)
    return exit_code([r.verdict.value if r.verdict else "error" for r in results if not r.matches])


def _cmd_matrix(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    if args.jobs < 1:
        raise HarnessError(f"-j {args.jobs}: give at least one job")
    cells = matrix.select(
        matrix.load(
            args.matrix or settings.scenarios_dir / "matrix.yml", settings.scenarios_dir, matrix.clone_refs(settings)
        ),
        args.only,
    )
    if args.list:
        print(json.dumps([{"label": c.label, "scenario": c.scenario, "ref": c.ref} for c in cells]))
        return 0
    out_dir = settings.new_run_path("matrix")
    if args.baseline:
        return _nightly(args, settings, console, cells, out_dir)
    if args.summary:
        raise HarnessError("--summary needs --baseline (last night's --report-json)")
    planned = matrix.plan(settings, cells, _changes(args, settings))
    if console.is_terminal:  # a live table; in logs, a line per start and end
        with Live(report.matrix_progress(planned), console=console, refresh_per_second=1) as live:
            results = matrix.run(planned, args.jobs, out_dir, progress=lambda _: None)
            live.update(report.matrix_progress(planned))
    else:
        results = matrix.run(planned, args.jobs, out_dir, progress=command.progress(console))
    return _matrix_outputs(console, results, args)


def _cmd_corpus(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    if args.jobs < 1:
        raise HarnessError(f"-j {args.jobs}: give at least one job")
    replays = corpus.plan(settings, args.corpus, args.only)
    corpus.run(replays, args.jobs, settings.new_run_path("corpus"), progress=command.progress(console))
    table = corpus.markdown(replays)
    console.print(table, markup=False)
    if args.table:
        _write(args.table, table)
    _matrix_outputs(console, [replay.cell() for replay in replays], args)
    return 0 if all(replay.holds for replay in replays) else EXIT_MISMATCH


def _nightly(
    args: argparse.Namespace, settings: Settings, console: Console, cells: list[matrix.CellSpec], out_dir: Path
) -> int:
    if args.bisect_budget < 1:
        raise HarnessError(f"--bisect-budget {args.bisect_budget}: give at least one run")
    baseline = matrix.read_reports([args.baseline])
    if args.only:  # the cells left out tonight are not removed from the matrix
        baseline = [cell for cell in baseline if cell.spec.label in {spec.label for spec in cells}]
    planned = matrix.plan(settings, cells, _changes(args, settings))
    findings = nightly.watch(
        settings, baseline, planned, args.jobs, out_dir, args.bisect_budget, command.progress(console)
    )
    results = [finding.final for finding in findings]
    return _matrix_outputs(console, results, args, nightly.removed_cells(baseline, results))


def _cmd_matrix_report(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    results = matrix.read_reports(args.reports)
    removed = nightly.removed_cells(matrix.read_reports([args.baseline]), results) if args.baseline else []
    return _matrix_outputs(console, results, args, removed)


def _matrix_outputs(
    console: Console, results: list[matrix.CellResult], args: argparse.Namespace, removed: Sequence[str] = ()
) -> int:
    """The table, and every file asked for (report.FORMATS)."""
    report.print_matrix(console, results)
    for output in report.FORMATS:
        path = getattr(args, output.option.removeprefix("--").replace("-", "_"))
        if path:
            _write(path, output.render(results, removed))
    return exit_code([cell.verdict for cell in results if not cell.matches])


def _cmd_repro(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    options = reproduce.ReproOptions(
        report=args.report,
        steps=args.step,
        ref=args.ref,
        trust_report=args.trust_report,
        changes=_changes(args, settings),
        save_scenario=args.save_scenario,
        tags=[tag for tag in (args.tags or "").split(",") if tag] or None,
    )
    result = reproduce.reproduce(settings, options, progress=command.progress(console))
    data = result.as_dict()
    _write_json(result.prepared.directory / "repro.json", data)
    if args.report_json:
        _write_json(args.report_json, data)
    report.print_steps(console, result.run)
    report.print_repro(console, data)
    return REPRO_EXIT_CODES.get(data["verdict"], EXIT_MISMATCH)


def _cmd_bisect(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    options = bisect.BisectOptions(
        args.scenario, args.good, args.bad, args.find, args.trust_ends, upgrade_from=args.upgrade_from
    )
    result = bisect.bisect(settings, options, progress=command.progress(console))
    data = result.as_dict()
    _write_json(Path(result.directory) / "bisect-result.json", data)
    if args.report_json:
        _write_json(args.report_json, data)
    report.print_bisect(console, data)
    return bisect.exit_code(result)


def _cmd_bisect_probe(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    try:
        return bisect.probe(settings, args.directory)
    except Exception as exc:  # any other exit than 0/1/125 would blame or abort: a broken probe skips
        print(f"probe failed: {exc!r}; skipping this commit", file=sys.stderr)
        return bisect.EXIT_SKIP


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _write_json(path: Path, data: object) -> None:
    _write(path, json.dumps(data, indent=2) + "\n")


def _cmd_down(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    _check_run_id(args.run_id)
    if ownership.is_live(settings, args.run_id):
        raise HarnessError(f"run {args.run_id} is live: its harness process is running; stop that (Ctrl-C or kill)")
    removed = runner.down(settings, args.run_id)
    if not removed:
        raise HarnessError(f"nothing of run {args.run_id} is left: no container, network or worktree carries its id")
    console.print(f"run {args.run_id}: removed {', '.join(removed)}")
    return 0


def _cmd_gc(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    for run_id in args.run:
        _check_run_id(run_id)
    removed, left = ownership.gc(settings, args.run)
    for entry in removed:
        console.print(entry.describe(), markup=False)
    if not removed:
        console.print("nothing to remove: every run here is live or cleaned up")
    for run_id in left:
        console.print(
            f"left alone: run {run_id}, which no harness run here owned (kept with --keep, or a bare "
            f"`molecule test`): `harness down {run_id}` or `harness gc --run {run_id}` removes it",
            markup=False,
        )
    return 0


def _check_run_id(run_id: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", run_id):
        raise HarnessError(f"{run_id!r} is not a run id: give the one `harness run` printed (8 hex digits)")


def _cmd_deploys(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    if args.remove:
        removed = deploys.remove_all(settings)
        console.print("\n".join(f"removed {line}" for line in removed) or "no saved deploy", markup=False)
        return 0
    for deploy in deploys.saved(settings):
        console.print(f"{deploy.key}: {deploy.scenario}, {deploy.describe()}, subnet {deploy.subnet}", markup=False)
    return 0


def _cmd_bench(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    if args.ref and not args.scenario:
        raise HarnessError("--ref goes with a SCENARIO: `harness bench SCENARIO --ref REF`")
    needs_plan = args.matrix or not args.scenario
    plan = bench.load_plan(settings.scenarios_dir / bench.PLAN_FILE) if needs_plan else bench.Plan(cases=())
    if args.scenario:
        if not args.ref:
            raise HarnessError(f"bench {args.scenario}: give --ref REF (the Kubespray ref to time it at)")
        scenarios.load(settings.scenarios_dir, args.scenario)  # a wrong name fails here, not after a run
        cases = (bench.Case(args.scenario, args.ref),)
    else:
        cases = plan.cases
    cells = plan.matrix_cells if args.matrix else ()
    document = bench.bench(
        settings, cases, args.runs, settings.new_run_path("bench"), args.cold, cells, command.progress(console)
    )
    if args.json:
        _write_json(args.json, document)
    if args.markdown:
        _write(args.markdown, report.bench_markdown(document))
    report.print_bench(console, document)
    if not bench.all_matched(document):
        console.print("a run did not get its expected verdict: these timings are not comparable (see the logs)")
        return EXIT_MISMATCH
    return 0


def _cmd_images(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    built = images.ensure_images(settings, command.progress(console))
    console.print(f"node image: {built.node}\nlb image:   {built.lb}")
    return 0


def _cmd_list(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    for name in scenarios.available(settings.scenarios_dir):
        console.print(f"{name}: {scenarios.load(settings.scenarios_dir, name).description}")
    return 0


def _cmd_molecule_files(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    for name in scenarios.available(settings.scenarios_dir):
        path = molecule.write_platforms(scenarios.load(settings.scenarios_dir, name))
        console.print(f"{name}: {path.relative_to(settings.scenarios_dir.parent)}")
    return 0
