"""The commands Molecule's lifecycle calls (`harness nodes up|down`, `variables`, `step`,
`molecule-dependency`), several times a run, on its critical path.

They import only what they use: the whole CLI (reports, matrix, bench, repro with Ansible's
inventory machinery) takes a second more to import, and Molecule starts seven of these a run.
`harness.launcher` sends them here without importing the rest; `harness.cli` lists them too.
"""

from __future__ import annotations

import argparse
import json
import os

from rich.console import Console

from harness import command, molecule, nodes, steps
from harness import context as run_context
from harness import scenario as scenarios
from harness.errors import EXIT_MISMATCH, HarnessError
from harness.kubespray import source
from harness.settings import Settings

COMMANDS = ("step", "nodes", "variables", "molecule-dependency")


def add_commands(sub: argparse._SubParsersAction) -> None:
    step = sub.add_parser("step", help="(called by Molecule's playbooks) run a phase's Kubespray steps")
    step.add_argument("--phase", choices=["prepare", "converge"], required=True)
    step.add_argument("--scenario", default="", help="the Molecule scenario, when Molecule runs without the harness")
    step.set_defaults(func=_step)

    nd = sub.add_parser("nodes", help="(called by Molecule's create and destroy) start or remove a run's nodes")
    nd.add_argument("action", choices=["up", "down"])
    nd.add_argument("--scenario", default="", help="the Molecule scenario (up)")
    nd.set_defaults(func=_nodes)

    var = sub.add_parser(
        "variables", help="(called by Molecule's prepare) the run's Kubespray variables and node addresses as JSON"
    )
    var.add_argument("--scenario", default="", help="the Molecule scenario, when Molecule runs without the harness")
    var.set_defaults(func=_variables)

    dep = sub.add_parser("molecule-dependency", help="(called by Molecule) prepare a run context")
    dep.add_argument("scenario")
    dep.set_defaults(func=_molecule_dependency)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="harness")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return command.execute(parser.parse_args(argv))


def _step(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    context = run_context.RunContext.load(run_context.current_run_dir(settings, args.scenario))
    scenario = scenarios.load(settings.scenarios_dir, context.scenario)
    results = steps.run_phase(context, scenario, args.phase)
    return 0 if all(r.rc == 0 for r in results) else EXIT_MISMATCH


def _nodes(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    if args.action == "down":
        nodes.down(os.environ)
        return 0
    if not args.scenario:
        raise HarnessError("nodes up: give --scenario NAME (Molecule's scenario)")
    scenario = scenarios.load(settings.scenarios_dir, args.scenario)
    print(json.dumps(nodes.up(scenario, os.environ, settings.image_repository)))
    return 0


def _variables(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    context = run_context.RunContext.load(run_context.current_run_dir(settings, args.scenario))
    scenario = scenarios.load(settings.scenarios_dir, context.scenario)
    variables = steps.run_variables(context, scenario)
    addresses = steps.node_addresses(context)
    control_planes = [node.name for node in scenario.nodes if "kube_control_plane" in node.groups]
    print(json.dumps({"variables": variables, "addresses": addresses, "control_planes": control_planes}))
    return 0


def _molecule_dependency(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    name = args.scenario
    run_dir = run_context.current_run_dir(settings, name)
    if (run_dir / run_context.CONTEXT_FILE).is_file() and os.environ.get("HARNESS_RUN_DIR"):
        return 0  # `harness run` prepared everything
    scenario = scenarios.load(settings.scenarios_dir, name)
    molecule.check_platforms_current(scenario)
    ref = os.environ.get("KUBESPRAY_REF") or (scenario.default_refs[-1] if scenario.default_refs else "")
    if not ref:
        raise HarnessError("set KUBESPRAY_REF to the Kubespray tag, branch or sha to run")
    run_id = os.environ.get("HARNESS_RUN_ID", "molecule")
    console.print(f"preparing Kubespray {ref} for {name} in {run_dir}")
    resolved = source.resolve(settings, ref)
    run_context.prepare(settings, scenario, ref, resolved, run_dir, run_id, log=command.progress(console))
    return 0
