"""The harness_events callback under a real ansible-playbook (the harness's own Ansible, on
localhost): what it records of shapes the recorded Kubespray runs do not hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import events

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Never needed here
      debug: {msg: never}
      when: false
    - name: Write each part
      fail:
        msg: "part {{ item }} is broken"
      loop: [first, second]
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    work = tmp_path_factory.mktemp("callback")
    (work / "play.yml").write_text(PLAYBOOK)
    out = work / "events.jsonl"
    env = {
        **os.environ,
        "ANSIBLE_CALLBACK_PLUGINS": str(events.CALLBACK_DIR),
        "ANSIBLE_CALLBACKS_ENABLED": events.CALLBACK_NAME,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "HARNESS_EVENTS_FILE": str(out),
    }
    playbook = Path(sys.executable).with_name("ansible-playbook")
    run = subprocess.run([str(playbook), str(work / "play.yml")], env=env, capture_output=True, text=True, cwd=work)
    assert run.returncode == 2, run.stdout + run.stderr
    return events.read_events(out)


def test_a_loop_failure_is_recorded_with_what_its_failed_items_say(recorded: list[dict]) -> None:
    failure = events.first_failure(recorded)

    assert failure is not None
    assert (failure.task, failure.hosts) == ("Write each part", ("localhost",))
    assert failure.message.startswith("part first is broken"), failure
    assert "part second is broken" in failure.text


def test_a_skipped_task_is_recorded_as_skipped(recorded: list[dict]) -> None:
    skipped = [(event["task"], event["host"]) for event in recorded if event["event"] == "skipped"]

    assert skipped == [("Never needed here", "localhost")]
