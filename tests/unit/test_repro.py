"""Reading bug reports (tests/data/reports) into the scenario `harness repro` runs; bad reports refused.

No container and no Kubespray clone: everything here happens before either is needed.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from harness import cli
from harness import scenario as scenarios
from harness.errors import HarnessError
from harness.repro import build, commands, form, output, reproduce, safety
from harness.repro import inventory as report_inventory
from harness.repro.tags import BASE_TAGS
from harness.settings import Settings

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"
REPORT_1 = REPORTS / "report-1-upgrade-haproxy.md"
REPORT_2 = REPORTS / "report-2-scale-main-access-ip.md"
MALFORMED = REPORTS / "malformed"


def _plan(path: Path, steps: list[str] | None = None) -> build.Plan:
    report = form.read(path)
    inventory = report_inventory.read(report)
    replayed = commands.from_report(report.code("ansible_command"), steps or [], "commands")
    failure = output.reported_failure(report.code("ansible_output"))
    assert failure is not None
    step = reproduce.failing_step(inventory, replayed.commands, failure, report)
    return build.plan("d", inventory, replayed.commands, failure, step, form.kubespray_ref(report))


@pytest.fixture
def settings(repro_settings: Settings) -> Settings:
    return repro_settings


# The form


def test_markdown_sections_become_the_form_fields():
    report = form.read(REPORT_2)
    assert report.text("kubespray_version") == "8f4b7f9f5"
    assert report.text("network_plugin") == "calico"
    assert report.text("anything_else") == ""  # GitHub's "_No response_"


def test_yaml_report_reads_as_the_same_scenario_as_its_markdown():
    assert _plan(REPORTS / "report-1-upgrade-haproxy.yaml") == _plan(REPORT_1)


@pytest.mark.parametrize(
    ("said", "ref"),
    [
        ("v2.27.0 (9ec9b3a2)", "9ec9b3a2"),
        ("release-2.27", "release-2.27"),
        ("v2.27.1", "v2.27.1"),
        ("```\n6d4714b66\n```", "6d4714b66"),
    ],
)
def test_kubespray_ref_is_the_commit_when_one_is_named(said: str, ref: str):
    report = form.BugReport(Path("r.md"), {"kubespray_version": said})
    assert form.kubespray_ref(report) == ref


# The output


def test_reported_failure_is_the_fatal_task_and_its_undefined_variable():
    failure = output.reported_failure(form.read(REPORT_1).code("ansible_output"))
    assert failure is not None
    assert failure.task == "kubernetes/node : Haproxy | Write haproxy configuration"
    assert failure.host == "kw-1"
    assert failure.message == "'ansible.vars.hostvars.HostVarsVars object' has no attribute 'fallback_ip'"


def test_reported_message_leaves_out_the_reporters_paths():
    failure = output.reported_failure(form.read(REPORT_2).code("ansible_output"))
    assert failure is not None
    assert failure.message == "'ansible.vars.hostvars.HostVarsVars object' has no attribute 'main_access_ip'"
    assert "/home/debian" in failure.full_message


def test_ignored_failures_are_not_the_reported_one():
    text = (
        "TASK [a : probe] ***\n"
        'fatal: [km-1]: FAILED! => {"msg": "probe failed"}\n'
        "...ignoring\n\n"
        "TASK [b : real] ***\n"
        'fatal: [km-1 -> km-2]: FAILED! => {\n    "changed": false,\n    "msg": "the real one"\n}\n'
    )
    failure = output.reported_failure(text)
    assert failure is not None
    assert (failure.task, failure.host, failure.message) == ("b : real", "km-1", "the real one")


def test_every_host_that_failed_under_the_reported_task_is_expected():
    text = form.read(REPORT_1).code("ansible_output")
    fatal = next(line for line in text.splitlines() if line.startswith("fatal: [kw-1]"))
    failure = output.reported_failure(text.replace(fatal, f"{fatal}\n{fatal.replace('[kw-1]', '[kw-2]')}"))
    assert failure is not None
    assert failure.hosts == ("kw-1", "kw-2")


@pytest.mark.parametrize(
    ("result", "message", "rc"),
    [
        pytest.param('{"changed": true, "rc": 2, "stderr": "E: Unable to locate it"}', "E: Unable to", 2, id="stderr"),
        pytest.param('{"module_stdout": "Traceback: boom", "rc": 1}', "Traceback: boom", 1, id="module-stdout"),
        pytest.param('{"changed": true, "rc": 3}', "", 3, id="rc-only"),
    ],
)
def test_a_failure_without_msg_is_matched_on_what_it_has(result: str, message: str, rc: int):
    failure = output.reported_failure(f"TASK [a : command] ***\nfatal: [km-1]: FAILED! => {result}\n")
    assert failure is not None
    assert failure.message.startswith(message) and failure.rc == rc


def test_a_failure_that_says_nothing_is_refused(tmp_path: Path, settings: Settings):
    text = form.read(REPORT_2).path.read_text()
    fatal = next(line for line in text.splitlines() if line.startswith("fatal: [kw-3]"))
    silent = tmp_path / "silent.md"
    silent.write_text(text.replace(fatal, 'fatal: [kw-3]: FAILED! => {"changed": false}'))
    with pytest.raises(HarnessError, match="says nothing to match"):
        reproduce.prepare(settings, reproduce.ReproOptions(report=silent), log=lambda _: None)


def test_the_expected_step_is_the_first_command_whose_limit_reaches_the_failed_host():
    plan = _plan(REPORT_1)
    assert plan.failure_step == "command-2"  # --limit kw-1; command-1 was kube_control_plane:etcd
    assert plan.expected_failure().hosts == ("kw-1",)
    assert plan.expected_failure().message is not None and "'fallback_ip'" in plan.expected_failure().message


def test_a_failed_host_no_command_reaches_is_refused():
    report = form.read(REPORT_1)
    inventory = report_inventory.read(report)
    replayed = commands.from_report(report.code("ansible_command"), [], "commands")
    failure = output.reported_failure(report.code("ansible_output"))
    assert failure is not None
    elsewhere = replace(failure, hosts=("kw-9",))
    with pytest.raises(HarnessError, match=r"failing host\(s\) kw-9 are in no command's --limit"):
        reproduce.failing_step(inventory, replayed.commands, elsewhere, report)


# The commands


def test_report_commands_keep_playbook_limit_and_order():
    replayed = commands.from_report(form.read(REPORT_1).code("ansible_command"), [], "commands")
    assert [(c.playbook, c.limit) for c in replayed.commands] == [
        ("upgrade-cluster.yml", "kube_control_plane:etcd"),
        ("upgrade-cluster.yml", "kw-1"),
        ("upgrade-cluster.yml", "kw-2"),
    ]


def test_command_options_of_the_reporters_machine_are_dropped_with_a_note():
    command, notes = commands.parse(
        "ansible-playbook -i hosts.ini -u admin --private-key ~/.ssh/k -b /home/me/kubespray/scale.yml "
        "--limit=kw-3 -e a=1 -e '{\"b\": [1, 2]}' --tags etchosts",
        "commands",
    )
    assert command.playbook == "scale.yml" and command.limit == "kw-3" and command.tags == ["etchosts"]
    assert command.extra_vars == {"a": "1", "b": [1, 2]}
    assert any("-u admin" in note for note in notes) and any("--private-key" in note for note in notes)


def test_extra_vars_from_a_file_of_the_reporters_machine_are_refused():
    with pytest.raises(HarnessError, match="reads a file of the reporter's machine"):
        commands.parse("ansible-playbook cluster.yml -e @vars.yml", "commands")


def test_step_options_replace_the_reports_commands_and_say_so():
    replayed = commands.from_report("ansible-playbook cluster.yml", ["scale.yml --limit kw-3"], "commands")
    assert [(c.playbook, c.limit) for c in replayed.commands] == [("scale.yml", "kw-3")]
    assert "replaced by --step" in replayed.notes[0]


def test_commands_in_prose_need_step_options():
    report = form.read(MALFORMED / "commands-in-prose.md")
    with pytest.raises(HarnessError, match="--step"):
        commands.from_report(report.code("ansible_command"), [], "commands")
    replayed = commands.from_report(report.code("ansible_command"), ["scale.yml --limit kw-3"], "commands")
    assert "no ansible-playbook line" in replayed.notes[0]


# The inventory


def test_ini_inventory_hosts_keep_their_names_and_groups():
    inventory = report_inventory.read(form.read(REPORT_2))
    groups = {host.name: sorted(host.groups) for host in inventory.hosts}
    assert groups["km-1"] == ["etcd", "kube_control_plane"]
    assert groups["kw-3"] == ["kube_node"]
    assert inventory.group_vars["all"]["loadbalancer_apiserver"] == {"address": "10.20.0.100", "port": 8443}


def test_group_vars_files_pasted_beside_the_inventory_are_read():
    inventory = report_inventory.read(form.read(REPORT_1))
    assert inventory.group_vars["all"]["loadbalancer_apiserver_type"] == "haproxy"
    assert inventory.group_vars["k8s_cluster"] == {"kube_network_plugin": "calico"}


def test_debug_output_pasted_as_inventory_is_refused():
    report = form.BugReport(Path("r.md"), {"inventory": 'km-1 | SUCCESS => {"hostvars[inventory_hostname]": {}}'})
    with pytest.raises(HarnessError, match="output of `ansible -m debug`"):
        report_inventory.read(report)


# Safety


def test_lookups_and_connection_overrides_are_found():
    findings = safety.scan(
        "group all",
        {
            "a": "{{ lookup('pipe', 'id') }}",
            "b": ["{{ query('file', '/etc/shadow') }}"],
            "ansible_ssh_common_args": "-o ProxyCommand=x",
            "ansible_host": "10.0.0.1",
            "c": "{{ groups['kube_node'] | length }}",
        },
    )
    assert sorted(finding.name for finding in findings) == ["a", "ansible_ssh_common_args", "b"]


def _commit(settings: Settings, *files: str) -> str:
    """Add files to the stand-in Kubespray; its new head."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", settings.kubespray_repo]
    for name in files:
        (Path(settings.kubespray_repo) / name).parent.mkdir(parents=True, exist_ok=True)
        (Path(settings.kubespray_repo) / name).write_text("---\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "--allow-empty", "-qm", "more"], check=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def test_a_report_with_lookups_is_run_in_the_sandbox_and_what_they_do_is_said(settings: Settings):
    head = _commit(settings, "scale.yml")
    said: list[str] = []
    options = reproduce.ReproOptions(report=MALFORMED / "lookups-in-inventory.md", ref=head)

    prepared = reproduce.prepare(settings, options, log=said.append)

    findings = [line for line in said if "controller container" in line]
    assert any("lookup('pipe', 'cat /etc/shadow')" in line for line in findings), said
    written = yaml.safe_load((prepared.settings.scenarios_dir / prepared.name / "scenario.yml").read_text())
    assert "lookup('pipe'" in written["group_vars"]["all"]["cluster_name"], "passed on as data, unrendered"
    assert all(not name.startswith("ansible_") for node in written["nodes"] for name in node.get("host_vars", {}))
    assert "ansible_ssh_common_args" not in str(written), "connection settings are never passed on"


def test_a_playbook_outside_kubesprays_own_needs_trust(settings: Settings, tmp_path: Path):
    head = _commit(settings, "contrib/hack.yml")
    text = (REPORT_1).read_text().replace("upgrade-cluster.yml", "contrib/hack.yml")
    report = tmp_path / "contrib-playbook.md"
    report.write_text(text)

    with pytest.raises(HarnessError, match=r"'contrib/hack.yml' is not one of Kubespray's playbooks.*--trust-report"):
        reproduce.prepare(settings, reproduce.ReproOptions(report=report, ref=head), log=lambda _: None)
    trusted = reproduce.prepare(settings, reproduce.ReproOptions(report=report, ref=head, trust_report=True), print)
    assert "contrib/hack.yml" in [step["playbook"] for step in trusted.plan.steps]


def test_scale_command_adds_its_limit_host_at_that_step():
    plan = _plan(REPORT_2)
    nodes = {node["name"]: node for node in plan.nodes}
    assert nodes["kw-3"]["joins_at"] == "command-1"
    assert [step["name"] for step in plan.steps] == ["deploy", "command-1"]
    assert plan.steps[0]["playbook"] == "cluster.yml" and plan.steps[0]["phase"] == "prepare"


def test_external_load_balancer_address_becomes_a_loadbalancer_node():
    plan = _plan(REPORT_2)
    assert {"name": "lb-1", "role": "loadbalancer"} in plan.nodes
    assert plan.group_vars["all"]["loadbalancer_apiserver"]["address"] == "<< address('lb-1') >>"


def test_report_addresses_in_variables_become_the_containers_addresses():
    report = form.read(REPORT_2)
    inventory = report_inventory.read(report)
    inventory.hosts[0].vars.update(ip="10.20.0.11", etcd_peer_url="https://10.20.0.11:2380")
    replayed = commands.from_report(report.code("ansible_command"), [], "commands")
    failure = output.reported_failure(report.code("ansible_output"))
    assert failure is not None
    plan = build.plan("d", inventory, replayed.commands, failure, "command-1", "8f4b7f9f5")
    host_vars = plan.nodes[0]["host_vars"]
    assert host_vars == {"ip": "<< address('km-1') >>", "etcd_peer_url": "https://<< address('km-1') >>:2380"}


def test_written_scenario_loads_like_a_hand_written_one(tmp_path: Path):
    (tmp_path / "shared").symlink_to(Path(scenarios.__file__).resolve().parents[1] / "scenarios" / "shared")
    build.write(_plan(REPORT_2), tmp_path / "report-2", source="report-2.md")
    loaded = scenarios.load(tmp_path, "report-2")
    assert [node.name for node in loaded.nodes] == ["km-1", "km-2", "km-3", "kw-1", "kw-2", "kw-3", "lb-1"]
    assert loaded.expectations["8f4b7f9f5"].fail is not None
    assert [path.name for path in (tmp_path / "report-2").iterdir()] == ["scenario.yml"], "one file, as by hand"
    saved = yaml.safe_load((tmp_path / "report-2" / "scenario.yml").read_text())
    assert saved["steps"][1] == {
        "name": "command-1",
        "playbook": "scale.yml",
        "limit": "kw-3",
        "tags": BASE_TAGS,
    }


# Bad reports: one line naming the section, exit 2, before any container


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("no-inventory.md", "### Full inventory with variables"),
        ("inventory-does-not-parse.md", "### Full inventory with variables"),
        ("hosts-without-kubespray-groups.md", "no host is in kube_control_plane; Kubespray needs a control plane"),
        ("no-commit.md", "### Version of Kubespray (commit)"),
        ("unknown-commit.md", "'deadbeef1' is not a commit"),
        ("commands-in-prose.md", "### Command used to invoke ansible"),
        ("no-failure-in-output.md", "### Output of ansible run"),
        ("not-an-issue-form.md", "no '### <field>' sections"),
    ],
)
def test_bad_report_is_refused_naming_what_is_wrong(name, named, settings, monkeypatch, capsys):
    monkeypatch.setenv("KUBESPRAY_REPO", settings.kubespray_repo)
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(settings.cache_dir))
    monkeypatch.setenv("HARNESS_RUNS_DIR", str(settings.runs_dir))
    exit_code = cli.main(["repro", str(MALFORMED / name)])
    error = capsys.readouterr().err
    assert exit_code == 2, error
    assert len(error.strip().splitlines()) == 1, error
    assert named in error
    assert not settings.runs_dir.exists() or not any(settings.runs_dir.iterdir()), "nothing ran"


def test_a_machines_file_in_the_report_is_written_into_the_scenario(settings: Settings):
    head = _commit(settings, "cluster.yml")
    report = (
        Path(__file__).resolve().parents[1] / "data" / "reports" / "corpus" / "issue-10413-resolv-inline-comment.md"
    )
    said: list[str] = []

    prepared = reproduce.prepare(settings, reproduce.ReproOptions(report=report, ref=head), log=said.append)

    loaded = scenarios.load(prepared.settings.scenarios_dir, prepared.name)
    assert [(file.path, file.hosts) for file in loaded.files] == [("/etc/resolv.conf", ["node2"])]
    assert "nameserver 10.128.0.2 # primary, from DHCP" in loaded.files[0].content
    assert "note: the report's /etc/resolv.conf is written on node2 before the first step" in said


def test_a_task_renamed_since_the_report_is_expected_under_its_name_at_the_ref(settings: Settings, tmp_path: Path):
    head = _commit(settings, "cluster.yml", "upgrade-cluster.yml")
    old = "kubernetes/node : Haproxy | Write the haproxy configuration"
    report = tmp_path / "renamed.md"
    report.write_text(REPORT_1.read_text().replace("kubernetes/node : Haproxy | Write haproxy configuration", old))
    said: list[str] = []

    prepared = reproduce.prepare(settings, reproduce.ReproOptions(report=report, ref=head), log=said.append)

    assert prepared.plan.expected_failure().task == "kubernetes/node : Haproxy | Write haproxy configuration"
    assert (
        f"note: TASK [{old}] is TASK [kubernetes/node : Haproxy | Write haproxy configuration] at this ref (renamed)"
        in said
    )


def test_the_same_report_started_twice_in_one_second_gets_two_directories(settings: Settings, monkeypatch):
    monkeypatch.setattr("harness.settings.time.strftime", lambda _: "20261126-120000")  # one second

    first = reproduce._repro_directory(settings, "report")
    second = reproduce._repro_directory(settings, "report")

    assert first != second and first.is_dir() and second.is_dir()
    assert second.name == f"{first.name}-2"
