"""The reported failure read from any Ansible output a reporter pastes: the shapes Ansible prints
(loops, unreachable hosts, retries, ignored errors, several hosts), and what terminals and
callbacks add around them (colour, profile_tasks times, -v noise), fenced or not."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import HarnessError
from harness.repro import output, reproduce
from harness.settings import Settings

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"

TASK = "kubernetes/preinstall : Stop if ip var does not match local ips"
HEADER = f"TASK [{TASK}] *****************************************************"
MSG = "IPv4: '10.0.0.21' do not match with IP found for the host"
FATAL = (
    f'fatal: [kw-1]: FAILED! => {{"assertion": "ip in ansible_all_ipv4_addresses", "changed": false, "msg": "{MSG}"}}'
)


def _failure(text: str) -> output.ReportedFailure:
    return output.reported_failure(text)


def test_a_loop_failure_is_read_from_its_failed_item_lines():
    text = (
        "TASK [kubernetes/node : Write kubelet config] ***\n"
        'ok: [kw-1] => (item={"name": "a"})\n'
        "failed: [kw-3] (item={'name': 'kubelet.env', 'dest': '/etc/kubernetes'}) => "
        '{"ansible_loop_var": "item", "changed": false, "item": {"name": "kubelet.env"}, '
        '"msg": "AnsibleUndefinedVariable: \'kube_reserved\' is undefined"}\n'
        'failed: [kw-4] (item={"name": "kubelet.env"}) => {"ansible_loop_var": "item", "msg": "again"}\n'
    )
    failure = _failure(text)
    assert failure.task == "kubernetes/node : Write kubelet config"
    assert failure.hosts == ("kw-3", "kw-4")
    assert failure.message == "'kube_reserved' is undefined"


def test_colour_codes_are_read_past():
    text = f"\x1b[0;33m{HEADER}\x1b[0m\n\x1b[0;31m{FATAL}\x1b[0m\n"
    failure = _failure(text)
    assert (failure.task, failure.host, failure.message) == (TASK, "kw-1", MSG)


def test_profile_tasks_times_and_verbose_noise_are_read_past():
    text = (
        f"{HEADER}\n"
        "Thursday 21 November 2024  10:11:12 +0000 (0:00:00.123)       0:01:23.456 ****\n"
        "task path: /home/user/kubespray/roles/kubernetes/preinstall/tasks/0040-verify-settings.yml:91\n"
        "<10.0.0.21> ESTABLISH SSH CONNECTION FOR USER: debian\n"
        + FATAL.replace("=> {", '=> {"_ansible_verbose_always": true, ')
        + "\n"
    )
    failure = _failure(text)
    assert (failure.task, failure.message) == (TASK, MSG)


def test_a_result_printed_over_several_lines_is_read_whole():
    text = f'{HEADER}\nfatal: [kw-1]: FAILED! => {{\n    "changed": false,\n    "msg": "{MSG}"\n}}\n'
    assert _failure(text).message == MSG


def test_retries_before_the_failure_are_not_failures():
    text = (
        f"{HEADER}\n"
        f"FAILED - RETRYING: [kw-1]: {TASK} (4 retries left).\n"
        f"FAILED - RETRYING: [kw-1]: {TASK} (3 retries left).\n"
        f"{FATAL}\n"
    )
    failure = _failure(text)
    assert (failure.task, failure.hosts) == (TASK, ("kw-1",))


def test_a_failed_command_is_told_by_its_stderr_not_by_ansibles_non_zero_return_code():
    report = (REPORTS / "cannot-reproduce" / "issue-11626-kubeadm-token.md").read_text()
    failure = _failure(report.split("### Output of ansible run", 1)[1])

    assert failure.task == "kubernetes/kubeadm : Create kubeadm token for joining nodes with 24h expiration (default)"
    assert failure.hosts == ("worker-2",)  # delegated to control-plane-0, failed for worker-2
    assert failure.message == "failed to load admin kubeconfig: open ~/.kube/config: no such file or directory"
    assert failure.rc == 1


def test_an_ignored_loop_failure_is_not_the_reported_one():
    text = (
        "TASK [a : probe] ***\n"
        'failed: [km-1] (item=x) => {"msg": "probe failed"}\n'
        'failed: [km-1] (item=y) => {"msg": "probe failed"}\n'
        "...ignoring\n"
        f"{HEADER}\n{FATAL}\n"
    )
    assert _failure(text).task == TASK


def test_every_failing_host_under_the_header_counts_and_a_later_play_does_not():
    later = f"PLAY [again] ***\n{HEADER}\n{FATAL.replace('kw-1', 'kw-3')}\n"
    text = f"{HEADER}\n{FATAL}\n{FATAL.replace('kw-1', 'kw-2')}\n{later}"
    assert _failure(text).hosts == ("kw-1", "kw-2")


def test_an_unreachable_host_beside_a_real_failure_leaves_the_real_one():
    unreachable = 'fatal: [kw-9]: UNREACHABLE! => {"changed": false, "msg": "timed out", "unreachable": true}'
    text = f"TASK [Gathering Facts] ***\n{unreachable}\n{HEADER}\n{FATAL}\n"
    assert (_failure(text).task, _failure(text).hosts) == (TASK, ("kw-1",))


def test_only_unreachable_hosts_cannot_be_reproduced_here():
    text = (
        'TASK [Gathering Facts] ***\nfatal: [kw-9]: UNREACHABLE! => {"msg": "Failed to connect", "unreachable": true}\n'
    )
    with pytest.raises(output.CannotReproduceHere, match="kw-9 could not be reached over SSH"):
        _failure(text)


def test_a_play_recap_alone_is_refused_naming_the_failed_hosts():
    text = (
        "PLAY RECAP *********************************************************************\n"
        "km-1                       : ok=612  changed=12   unreachable=0    failed=0    skipped=1071 rescued=0\n"
        "kw-1                       : ok=402  changed=3    unreachable=0    failed=1    skipped=640  rescued=0\n"
    )
    with pytest.raises(output.NoReportedFailure, match=r"only the PLAY RECAP \(failed: kw-1\)"):
        _failure(text)


def test_a_failure_without_its_task_header_is_refused():
    with pytest.raises(output.NoReportedFailure, match="kw-1 has no `TASK"):
        _failure(f"{FATAL}\n")


def test_a_failing_handler_is_named_like_a_task():
    header = "RUNNING HANDLER [kubernetes/node : Kubelet | restart kubelet] ***"
    text = f'{header}\nfatal: [kw-1]: FAILED! => {{"msg": "{MSG}"}}\n'
    assert _failure(text).task == "kubernetes/node : Kubelet | restart kubelet"


def _report(tmp_path: Path, output_section: str) -> Path:
    source = REPORTS / "report-2-scale-main-access-ip.md"
    text = source.read_text()
    start = text.index("### Output of ansible run")
    end = text.index("###", start + 4)
    path = tmp_path / "report.md"
    path.write_text(text[:start] + "### Output of ansible run\n\n" + output_section + "\n\n" + text[end:])
    return path


def test_a_result_in_the_yaml_format_is_read_from_the_lines_under_it():
    # The yaml callback (or `result_format = yaml`): `changed=false` on the failure line, the
    # result below it as indented YAML (kubespray#12220's output had this shape).
    text = (
        "TASK [etcd : Gen_certs | Pretend all control plane have all certs (with symlinks)] ***\n"
        "failed: [control-001] (item=['', 'control-002']) => changed=false\n"
        "  ansible_loop_var: item\n"
        "  item:\n"
        "  - ''\n"
        "  - control-002\n"
        "  msg: 'src file does not exist: /etc/ssl/etcd/ssl/node-control-001.pem'\n"
        "  path: /etc/ssl/etcd/ssl/node-control-002.pem\n"
        "\n"
        "PLAY RECAP ***\n"
    )
    failure = _failure(text)
    assert failure.hosts == ("control-001",)
    assert failure.message == "src file does not exist: /etc/ssl/etcd/ssl/node-control-001.pem", failure


def test_output_pasted_without_a_code_fence_is_read(tmp_path: Path, repro_settings: Settings, repro_head: str):
    report = _report(tmp_path, f"{HEADER}\n{FATAL.replace('kw-1', 'kw-3')}")
    prepared = reproduce.prepare(
        repro_settings, reproduce.ReproOptions(report=report, ref=repro_head), log=lambda _: None
    )
    assert (prepared.failure.task, prepared.failure.hosts) == (TASK, ("kw-3",))


def test_a_repro_of_an_unreachable_host_says_it_cannot_reproduce_here(
    tmp_path: Path, repro_settings: Settings, repro_head: str
):
    report = _report(tmp_path, '```\nTASK [Gathering Facts] ***\nfatal: [kw-3]: UNREACHABLE! => {"msg": "x"}\n```')
    with pytest.raises(HarnessError, match=r"^cannot reproduce here: the run failed only because kw-3"):
        reproduce.prepare(repro_settings, reproduce.ReproOptions(report=report, ref=repro_head), log=lambda _: None)


def test_ini_host_vars_of_every_type_and_nested_children_reach_the_scenario(
    tmp_path: Path, repro_settings: Settings, repro_head: str
):
    text = (REPORTS / "report-2-scale-main-access-ip.md").read_text()
    typed = 'kw-1 ansible_host=10.20.0.21 ip=10.20.0.21 kubelet_max_pods=200 zones=\'["a", "b"]\' labels=\'{"x": 1}\''
    text = text.replace("kw-1 ansible_host=10.20.0.21", typed).replace(
        "[kube_node]\n", "[kube_node:children]\nworkers\n\n[workers]\n"
    )
    report = tmp_path / "typed.md"
    report.write_text(text)

    prepared = reproduce.prepare(repro_settings, reproduce.ReproOptions(report=report, ref=repro_head), lambda _: None)

    written = yaml.safe_load((prepared.settings.scenarios_dir / prepared.name / "scenario.yml").read_text())
    kw_1 = next(node for node in written["nodes"] if node["name"] == "kw-1")
    assert kw_1["host_vars"] == {
        "ip": "<< address('kw-1') >>",
        "kubelet_max_pods": 200,
        "zones": ["a", "b"],
        "labels": {"x": 1},
    }
    assert set(kw_1["groups"]) == {"kube_node", "workers"}


def _prepared_with_command(tmp_path: Path, settings: Settings, head: str, command: str) -> reproduce.Prepared:
    """Report 2 with another command than its `scale.yml --limit=kw-3`, prepared."""
    report = tmp_path / "report.md"
    report.write_text(
        (REPORTS / "report-2-scale-main-access-ip.md").read_text().replace("scale.yml --limit=kw-3", command)
    )
    return reproduce.prepare(settings, reproduce.ReproOptions(report=report, ref=head), lambda _: None)


def test_an_address_in_an_extra_var_reaches_the_step_as_the_nodes_placeholder(
    tmp_path: Path, repro_settings: Settings, repro_head: str
):
    command = "scale.yml --limit=kw-3 -e etcd_endpoint=10.20.0.11:2379"
    prepared = _prepared_with_command(tmp_path, repro_settings, repro_head, command)

    step = next(step for step in prepared.plan.steps if step["name"] == "command-1")
    assert step["extra_vars"] == {"etcd_endpoint": "<< address('km-1') >>:2379"}


def test_a_report_of_a_failing_deploy_runs_its_cluster_yml_as_the_deploy(
    tmp_path: Path, repro_settings: Settings, repro_head: str
):
    prepared = _prepared_with_command(tmp_path, repro_settings, repro_head, "cluster.yml")

    assert [(step["name"], step.get("phase", "converge")) for step in prepared.plan.steps] == [("command-1", "prepare")]
    assert prepared.plan.failure_step == "command-1"
    assert all("joins_at" not in node for node in prepared.plan.nodes)


def test_a_mandatory_variable_error_is_matched_on_the_variables_expression():
    said = (
        "The task includes an option with an undefined variable.. ['kubernetes', '{{ domain_name }}']"
        ": {{ 'localhost' if x else (y | d(undef())) }}: Mandatory variable has not been overridden"
        "\\n\\nThe error appears"
    )
    failure = _failure(f'TASK [a : b] ***\nfatal: [km-1]: FAILED! => {{"msg": "{said}"}}\n')

    assert failure.message == "{{ 'localhost' if x else (y | d(undef())) }}: Mandatory variable has not been overridden"
