"""What runs leave behind for people and CI: report.json (the contract), the terminal summary,
and the files a set of matrix cells can be written as (FORMATS: a new format is one function)."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from rich.console import Console
from rich.table import Table

from harness.kubespray import source
from harness.runner import RunResult, upgrade_label
from harness.text import one_line


def write_json(results: list[RunResult], path: Path) -> None:
    data: Any = results[0].as_dict() if len(results) == 1 else [r.as_dict() for r in results]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def _shas(data: dict[str, Any]) -> str:
    """The run's commit; for an upgrade across releases, both (`old -> new`)."""
    return upgrade_label(data["sha"][:12], (data.get("from_sha") or "")[:12])


def print_summary(console: Console, result: RunResult) -> None:
    print_steps(console, result)
    print_verdict(console, result)


def print_steps(console: Console, result: RunResult) -> None:
    applied = source.with_changes(result.changes)
    table = Table(title=f"{result.scenario} @ {result.refs} ({_shas(result.as_dict())}){applied}", show_edge=False)
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("rc", justify="right")
    table.add_column("depth: task results; share of the playbook's tasks the tags select")
    depth = {step.step: step.describe() for step in result.coverage}
    for step in result.steps:
        name = f"{step.name} (reused)" if step.reused else step.name
        table.add_row(name, f"{step.seconds:.1f}", str(step.rc), depth.get(step.name, ""))
    table.add_row("[b]wall (all of the run)[/b]", f"{result.wall_seconds:.1f}", "", "")
    console.print(table)


def print_verdict(console: Console, result: RunResult) -> None:
    style = "green" if result.matches else "red"
    assert result.verdict is not None
    console.print(f"[{style}]verdict: {result.verdict.headline}[/{style}] (expected: {result.expected.describe()})")
    if result.failed_task:  # Ansible's text may hold [brackets]: never read it as markup
        console.print(f"  step:    {result.failed_step}", markup=False)
        hosts = f"  (hosts {', '.join(result.failed_hosts)})" if result.failed_hosts else ""
        console.print(f"  task:    {result.failed_task}{hosts}", markup=False)
        console.print(f"  message: {one_line(result.failed_message or '')}", markup=False)
        console.print(f"  log:     {result.failed_log}", markup=False)
    for difference in result.differences:
        console.print(f"  differs: {difference}", markup=False)
    if result.checks.total:
        console.print(f"  checks:  {_checks_line(result.checks.as_dict())}")
    if result.reused_deploy:
        console.print(f"  deploy:  reused {result.reused_deploy} (--no-reuse deploys afresh)", markup=False)
    console.print(f"  run dir: {result.run_dir}")


REPRO_HEADLINES = {
    "reproduced": ("green", "reproduced: the run failed where the report says"),
    "not-reproduced": ("yellow", "not reproduced: the reported task ran on the reported host(s) and passed"),
    "failed-elsewhere": ("red", "failed elsewhere: the run failed, but not where the report says"),
    "inconclusive": ("red", "inconclusive: a host was unreachable or host checks were skipped"),
    "not-exercised": ("yellow", "not exercised: the reported task never ran on the reported host(s)"),
    "cannot-reproduce-here": ("yellow", "cannot reproduce here: the run stopped at what containers cannot run"),
}


def print_repro(console: Console, data: dict[str, Any]) -> None:
    """A repro's answer, with the report's failure beside the run's."""
    style, headline = REPRO_HEADLINES[data["verdict"]]
    console.print(f"[{style}]{headline}[/{style}]")
    where = f"in step {data['expected_step']} on {', '.join(data['expected_hosts'])}"
    said = data["expected_message"] or f"rc={data['expected_rc']}"
    console.print(f"  report:   TASK [{data['expected_task']}] {where}: {said}", markup=False)
    if data["failed_task"]:
        hosts = ", ".join(data["failed_hosts"]) or "-"
        run = f"TASK [{data['failed_task']}] in step {data['failed_step']} on {hosts}"
        console.print(f"  this run: {run}: {one_line(data['failed_message'] or '')}", markup=False)
    if data.get("stopped_beyond_containers"):  # the run's failure is not the report's to compare with
        console.print(f"  then:     {data['stopped_beyond_containers']}", markup=False)
    else:
        for difference in data["differences"]:
            console.print(f"  differs:  {difference}", markup=False)
    if data.get("cannot_reproduce_here"):
        console.print(f"  why:      {data['cannot_reproduce_here']}", markup=False)
    refs = upgrade_label(data["ref"], data.get("from_ref"))
    console.print(f"  ref:      {refs} ({_shas(data)}){source.with_changes(data['changes'])}", markup=False)
    console.print(f"  run dir:  {data['run_dir']}", markup=False)


def print_bisect(console: Console, data: dict[str, Any]) -> None:
    table = Table(title=f"bisect {data['scenario']} (find {data['find']})", show_edge=False)
    for column in ("commit", "verdict", "seconds"):
        table.add_column(column)
    for probe in data["probes"]:
        table.add_row(probe["sha"][:12], probe["verdict"], f"{probe['seconds']:.0f}")
    console.print(table)
    skipped = f", {len(data['skipped'])} skipped" if data["skipped"] else ""
    console.print(f"{data['runs']} scenario runs{skipped}, {data['seconds']:.0f} s")
    word = "fixed" if data["find"] == "fix" else "bad"
    if data["first_commit"]:
        pr = f" (PR #{data['pr']})" if data["pr"] and f"#{data['pr']}" not in data["subject"] else ""
        console.print(f"[green]first {word} commit: {data['first_commit']}[/green]")
        console.print(f"  {data['subject']}{pr}", markup=False)
    elif data.get("ends_problem"):
        console.print(f"nothing bisected: {data['ends_problem']}", style="red", markup=False)
    elif data["candidates"]:
        why = data.get("unresolved") or "only skipped commits are left"
        console.print(f"{why}; the first {word} commit is one of:", style="red", markup=False)
        for sha in data["candidates"]:
            console.print(f"  {sha}")
    else:
        console.print(f"[red]git bisect found no first {word} commit; see {data['directory']}/bisect.log[/red]")
    console.print(f"  directory: {data['directory']}", markup=False)


def print_table(console: Console, results: list[RunResult]) -> None:
    table = Table(title="kubespray-harness", show_edge=False)
    for column in ("scenario", "ref", "sha", "verdict", "matches", "failed task", "seconds"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.scenario,
            r.refs,
            _shas(r.as_dict()),
            r.verdict.headline if r.verdict else "-",
            "yes" if r.matches else "[red]NO[/red]",
            r.failed_task or "",
            f"{r.wall_seconds:.0f}",
        )
    console.print(table)


def _checks_line(checks: dict[str, Any]) -> str:
    """'23/25 passed, 2 skipped, 10 not applicable' from report.json's `checks`."""
    skipped = checks.get("skipped", [])
    not_applicable = checks.get("not_applicable", {})
    passed = checks["total"] - len(checks["failed"]) - len(skipped)
    return (
        f"{passed}/{checks['total']} passed"
        + (f", {len(skipped)} skipped" if skipped else "")
        + (f", {len(not_applicable)} not applicable ({_reasons(not_applicable)})" if not_applicable else "")
    )


def _reasons(not_applicable: dict[str, str]) -> str:
    return "; ".join(sorted(set(not_applicable.values())))


# --- the matrix: one row (or testcase) per cell ----------------------------------------------


def matrix_markdown(cells: Sequence[Any]) -> str:
    """A Markdown table of matrix cells (harness.matrix.CellResult)."""
    nightly = any(cell.night for cell in cells)
    lines = [
        "| scenario | ref | sha | verdict | expected | matches | failed task | seconds |"
        + (" night |" if nightly else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if nightly else ""),
    ]
    for cell in cells:
        report = cell.report
        task = _cell(report.get("failed_task") or "")
        lines.append(
            f"| {cell.spec.scenario} | {cell.spec.ref} | `{cell.sha[:12]}` | {cell.verdict} | {cell.expected} | "
            f"{'yes' if cell.matches else '**NO**'} | {task} | {report.get('seconds', '')} |"
            + (f" {cell.night.get('status', '')} |" if nightly else "")
        )
    return "\n".join(lines) + "\n"


def matrix_junit(cells: Sequence[Any]) -> str:
    """One JUnit testsuite, a testcase per cell; a mismatch is a failure naming task, message and log."""
    failures = sum(1 for cell in cells if not cell.matches)
    suite = ET.Element("testsuite", name="kubespray-harness", tests=str(len(cells)), failures=str(failures))
    for cell in cells:
        report = cell.report
        case = ET.SubElement(
            suite,
            "testcase",
            classname=cell.spec.scenario,
            name=f"{cell.spec.ref} ({cell.sha[:12]})",
            time=str(report.get("seconds", 0)),
        )
        if not cell.matches:
            culprit = culprit_line(cell.night)
            message = f"{cell.verdict}, expected {cell.expected}" + (f"; {culprit}" if culprit else "")
            failure = ET.SubElement(case, "failure", message=xml_text(message))
            failure.text = xml_text(
                f"task: {report.get('failed_task')}\nmessage: {report.get('failed_message')}\n"
                f"log: {report.get('failed_log') or cell.log}\nrun dir: {report.get('run_dir')}\n"
                + (f"bisect log: {cell.night['bisect']['directory']}/bisect.log\n" if "bisect" in cell.night else "")
            )
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


MAX_CANDIDATES_SHOWN = 20  # a bisection within its budget leaves fewer


def culprit_line(night: dict[str, Any]) -> str:
    """'regression since c557adf91e: first bad commit a51e7dd07 refact ip stack (#11953)', or why
    the range stayed open; '' for a cell that is not a regression."""
    if night.get("status") != "regression":
        return ""
    since = f"regression since {night['baseline']['sha'][:12]}"
    found = night.get("bisect") or {}
    if found.get("first_commit"):
        return f"{since}: first bad commit {found['first_commit'][:12]} {found['subject']}"
    if found.get("ends_problem"):
        return f"{since}: not bisected: {found['ends_problem']}"
    if found.get("candidates"):
        candidates = found["candidates"]
        shown = ", ".join(sha[:12] for sha in candidates[:MAX_CANDIDATES_SHOWN])
        more = f" and {len(candidates) - MAX_CANDIDATES_SHOWN} more" if len(candidates) > MAX_CANDIDATES_SHOWN else ""
        return f"{since}: {found['unresolved']}; the first bad commit is one of these {len(candidates)}: {shown}{more}"
    return f"{since}: not bisected: {night.get('not_bisected') or 'git bisect named no commit'}"


NIGHT_SECTIONS = [
    ("regression", "Regressions"),
    ("broke-at-same-commit", "Broke at a commit that passed last night (the harness or the machine?)"),
    ("flaky", "Flaky (failed, then passed on a rerun at the same commit)"),
]


def nightly_markdown(cells: Sequence[Any], removed: Sequence[str] = ()) -> str:
    """The night's summary: regressions first (with their culprit), then broken and flaky cells,
    then every cell's table."""
    lines = ["# kubespray-harness nightly", ""]
    for status, title in NIGHT_SECTIONS:
        chosen = [cell for cell in cells if cell.night.get("status") == status]
        if not chosen:
            continue
        lines += [f"## {title}", ""]
        for cell in chosen:
            report = cell.report
            lines.append(
                f"- **{cell.spec.label}** at `{cell.sha[:12]}`: {cell.verdict} (expected {cell.expected}), "
                f"step {report.get('failed_step')}, task `{report.get('failed_task')}` "
                f"on {', '.join(report.get('failed_hosts') or []) or '-'}: "
                f"{one_line(report.get('failed_message') or '', 200)}"
            )
            if status == "regression":
                lines.append(f"  - {culprit_line(cell.night)}")
                if "bisect" in cell.night:
                    found = cell.night["bisect"]
                    lines.append(f"  - bisect: {found['runs']} runs, {found['seconds']:.0f} s, {found['directory']}")
        lines.append("")
    moved = [cell for cell in cells if "failure_moved" in cell.night]
    if moved:
        lines += ["## Still failing, but elsewhere than last night", ""]
        for cell in moved:
            lines.append(
                f"- **{cell.spec.label}** at `{cell.sha[:12]}`: was `{cell.night['failure_moved']['from']}`, "
                f"now `{cell.night['failure_moved']['to']}`"
            )
        lines.append("")
    if removed:
        lines += ["## Cells no longer in the matrix", "", *[f"- {label}" for label in removed], ""]
    lines += ["## Every cell", "", matrix_markdown(cells)]
    return "\n".join(lines)


# Terminal colours, and the characters XML 1.0 cannot hold (a tool's output may carry both).
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Text as a JUnit file can carry it: colour codes and characters XML forbids taken out."""
    return _NOT_XML.sub("", _ANSI.sub("", text))


def print_matrix(console: Console, cells: Sequence[Any]) -> None:
    table = Table(title="kubespray-harness matrix", show_edge=False)
    for column in ("scenario", "ref", "sha", "verdict", "expected", "matches", "failed task", "seconds"):
        table.add_column(column)
    for cell in cells:
        table.add_row(
            cell.spec.scenario,
            cell.spec.ref,
            cell.sha[:12],
            cell.verdict,
            cell.expected,
            "yes" if cell.matches else "[red]NO[/red]",
            cell.report.get("failed_task") or "",
            str(cell.report.get("seconds", "")),
        )
    console.print(table)


# --- the matrix as one self-contained HTML page ---------------------------------------------

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def matrix_html(cells: Sequence[Any]) -> str:
    views = [_cell_view(cell) for cell in cells]
    return _TEMPLATES.get_template("matrix.html.j2").render(
        cells=views,
        mismatches=sum(1 for view in views if not view["matches"]),
        generated=time.strftime("%Y-%m-%d %H:%M %Z"),
    )


def _cell_view(cell: Any) -> dict[str, Any]:
    report = cell.report
    run_dir = Path(report["run_dir"]) if report.get("run_dir") else None
    return {
        "anchor": re.sub(r"[^A-Za-z0-9-]", "-", f"{cell.spec.scenario}-{cell.spec.ref}"),
        "scenario": cell.spec.scenario,
        "ref": cell.spec.ref,
        "sha": cell.sha,
        "verdict": cell.verdict,
        "expected": cell.expected,
        "matches": cell.matches,
        "seconds": report.get("seconds", ""),
        "run_dir": report.get("run_dir") or cell.log,
        "steps": report.get("steps", []),
        "failed_step": report.get("failed_step"),
        "failed_task": report.get("failed_task"),
        "failed_host": report.get("failed_host"),
        "failed_message": report.get("failed_message") or "",
        "failed_log": report.get("failed_log") or cell.log,
        "excerpt": log_excerpt(Path(report["failed_log"]), report.get("failed_task") or "")
        if report.get("failed_log")
        else [],
        "artifacts": node_artifacts(run_dir) if run_dir else [],
    }


def log_excerpt(log: Path, task: str, before: int = 12, after: int = 25) -> list[tuple[str, bool]]:
    """Lines of an ansible-playbook log around `TASK [task]`; failure lines marked."""
    if not log.is_file():
        return []
    lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(f"TASK [{task}]")]
    if not starts:
        return []
    failing = next((i for i in starts if any(_is_failure(line) for line in lines[i : i + after])), starts[-1])
    window = lines[max(0, failing - before) : failing + after]
    return [(line, _is_failure(line)) for line in window]


def _is_failure(line: str) -> bool:
    return line.startswith(("fatal:", "failed:"))


def node_artifacts(run_dir: Path) -> list[tuple[str, list[tuple[str, str]]]]:
    """What each node held at the end: (node, [(file name, content)])."""
    root = run_dir / "artifacts"
    if not root.is_dir():
        return []
    return [
        (node.name, [(file.name, file.read_text(errors="replace")) for file in sorted(node.iterdir())])
        for node in sorted(root.iterdir())
        if node.is_dir()
    ]


class _MatrixProgress:
    """Renders the cells' live state each time rich refreshes the display."""

    def __init__(self, cells: Sequence[Any]) -> None:
        self._cells = cells

    def __rich__(self) -> Table:
        table = Table(title="kubespray-harness matrix", show_edge=False)
        for column in ("cell", "sha", "state", "elapsed", "verdict", "expected"):
            table.add_column(column)
        for cell in self._cells:
            verdict = "" if cell.state != "done" else cell.verdict if cell.matches else f"[red]{cell.verdict}[/red]"
            table.add_row(
                cell.spec.label,
                cell.sha[:12],
                cell.state,
                f"{cell.elapsed:.0f}s" if cell.started else "",
                verdict,
                cell.expected,
            )
        return table


def matrix_progress(cells: Sequence[Any]) -> _MatrixProgress:
    return _MatrixProgress(cells)


@dataclass(frozen=True)
class Format:
    """A file a set of matrix cells can be written as, asked for with `option FILE`."""

    option: str
    what: str
    render: Callable[[Sequence[Any], Sequence[str]], str]  # (cells, cells gone from the matrix) -> the file


FORMATS = (
    Format(
        "--report-json",
        "every cell's report, with expected and matches (the next night's baseline)",
        lambda cells, _: json.dumps([cell.as_dict() for cell in cells], indent=2) + "\n",
    ),
    Format("--markdown", "the table as Markdown", lambda cells, _: matrix_markdown(cells)),
    Format("--junit", "one JUnit XML file, a testcase per cell", lambda cells, _: matrix_junit(cells)),
    Format("--html", "a self-contained HTML report", lambda cells, _: matrix_html(cells)),
    Format("--summary", "the night's summary as Markdown: regressions, flaky cells, the rest", nightly_markdown),
)


def _machine_line(machine: dict[str, Any]) -> str:
    return (
        f"{machine.get('cores')} cores, {machine.get('memory_gib')} GiB, {machine.get('engine')} "
        f"{machine.get('engine_version')} ({machine.get('storage_driver')}), kernel {machine.get('kernel')}, "
        f"cgroup v{machine.get('cgroup_version')}"
    )


def _cell(text: str) -> str:
    """Text for a Markdown table cell: Kubespray's task names hold `|`."""
    return one_line(text).replace("|", "\\|")


def _bench_row(case: dict[str, Any]) -> list[str]:
    """A bench case's figures, as both its tables show them."""
    return [
        f"{case['scenario']}@{case['ref']}",
        str(case["runs"]),
        f"{case['wall_median_s']:.1f}",
        f"{case['steps_median_s']:.1f}",
        f"{case['harness_median_s']:.1f}",
        str(case["overhead_ratio"]),
        f"{case['cold']['wall_s']:.0f}" if case.get("cold") else "-",
    ]


def bench_markdown(document: dict[str, Any], slowest: int = 20) -> str:
    """`harness bench`'s figures as the README carries them: the cases, the matrix, then per case
    its phases and, per Kubespray step, the slowest tasks."""
    lines = [
        f"Measured {document['date']} on {_machine_line(document['machine'])}.",
        "",
        "| case | warm runs | wall median (s) | Kubespray steps median (s) | harness (s) | overhead_ratio | cold (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(_bench_row(case)) + " |" for case in document["cases"]]
    matrix = document.get("matrix")
    if matrix:
        runs = matrix["runs"]
        lines += [
            "",
            f"Matrix of {len(matrix['cells'])} cells: -j 1 {runs['1']['wall_s']:.0f} s, "
            f"-j 2 {runs['2']['wall_s']:.0f} s, speedup {matrix['speedup']} "
            f"(CPU busy at -j 2: {runs['2']['cpu']['busy']:.0%}, iowait {runs['2']['cpu']['iowait']:.0%}).",
        ]
    for case in document["cases"]:
        lines += ["", f"### {case['scenario']}@{case['ref']}: phases (s)", "", "| phase | kind | min | median | max |"]
        lines.append("|---|---|---|---|---|")
        lines += [
            f"| {p['name']} | {p['kind']} | {p['min_s']:.1f} | {p['median_s']:.1f} | {p['max_s']:.1f} |"
            for p in case["phases"]
        ]
        for step, tasks in case["slowest_tasks"].items():
            lines += ["", f"Slowest tasks of `{step}` (median s):", "", "| s | task | play |", "|---|---|---|"]
            lines += [f"| {t['median_s']:.1f} | {_cell(t['task'])} | {_cell(t['play'])} |" for t in tasks[:slowest]]
    return "\n".join(lines) + "\n"


def print_bench(console: Console, document: dict[str, Any]) -> None:
    table = Table(title=f"harness bench ({_machine_line(document['machine'])})")
    for column in ("case", "runs", "wall median", "Kubespray steps", "harness", "overhead_ratio", "cold"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for case in document["cases"]:
        table.add_row(*_bench_row(case))
    console.print(table)
    if document.get("matrix"):
        console.print(f"matrix speedup at -j 2: {document['matrix']['speedup']}")
