"""Files of the reporter's machines pasted in a report (a block captioned with the file's path,
and the hosts that hold it) become the scenario's `files:`; other blocks stay what they were."""

from __future__ import annotations

from pathlib import Path

from harness.repro import files, form, inventory

CORPUS = Path(__file__).resolve().parents[1] / "data" / "reports" / "corpus"
RESOLV_CASE = CORPUS / "issue-10413-resolv-inline-comment.md"

INVENTORY = """### Version of Kubespray (commit)

v2.22.1

### Full inventory with variables

```ini
[kube_control_plane]
cp-1 ansible_host=10.0.0.11
[kube_node]
kw-1 ansible_host=10.0.0.21
```

`inventory/mycluster/group_vars/all/all.yml`:

```yaml
upstream_dns_servers: []
```
"""


def _report(tmp_path: Path, text: str) -> form.BugReport:
    path = tmp_path / "report.md"
    path.write_text(text)
    return form.read(path)


def test_a_block_captioned_with_a_path_and_a_host_is_that_hosts_file() -> None:
    report = form.read(RESOLV_CASE)

    found = files.read(report, inventory.read(report))

    assert [(entry["path"], entry.get("hosts")) for entry in found] == [("/etc/resolv.conf", ["node2"])]
    assert "nameserver 10.128.0.2 # primary, from DHCP\n" in found[0]["content"]


def test_a_block_captioned_with_a_path_alone_is_on_every_node(tmp_path: Path) -> None:
    text = INVENTORY + "\n### Anything else we need to know\n\nOur /etc/resolv.conf:\n\n```\nsearch lan\n```\n"
    report = _report(tmp_path, text)

    found = files.read(report, inventory.read(report))

    assert found == [{"path": "/etc/resolv.conf", "content": "search lan\n"}]
    assert files.describe(found[0]) == "the report's /etc/resolv.conf is written on every node before the first step"


def test_a_machine_file_in_the_inventory_section_is_not_read_as_the_inventory(tmp_path: Path) -> None:
    text = INVENTORY.replace(
        "`inventory/mycluster/group_vars",
        "/etc/resolv.conf on kw-1:\n\n```\nnameserver 10.0.0.2 # dhcp\n```\n\n`inventory/mycluster/group_vars",
    )
    report = _report(tmp_path, text)

    read = inventory.read(report)

    assert sorted(host.name for host in read.hosts) == ["cp-1", "kw-1"]
    assert read.group_vars["all"] == {"upstream_dns_servers": []}
    assert files.read(report, read) == [
        {"path": "/etc/resolv.conf", "content": "nameserver 10.0.0.2 # dhcp\n", "hosts": ["kw-1"]}
    ]


def test_inventory_files_and_urls_in_captions_are_no_node_files(tmp_path: Path) -> None:
    captions = [
        "`inventory/mycluster/group_vars/all/all.yml`:",
        "/home/me/kubespray/inventory/prod/hosts.ini",
        "as in https://github.com/kubernetes-sigs/kubespray/issues/10413:",
        "/etc/ansible/hosts",
    ]
    for caption in captions:
        assert files.node_file_path(form.CodeBlock(caption, "x")) is None, caption
