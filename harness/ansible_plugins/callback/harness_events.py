# Loaded by Kubespray's own ansible-playbook (any ansible-core >= 2.14), so it
# imports nothing from the harness: it only appends JSON lines to a file.
"""Callback plugin: one JSON line per task start and result, for the harness."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: harness_events
type: notification
short_description: write task results as JSON lines to $HARNESS_EVENTS_FILE
description: Used by kubespray-harness to read failing tasks without scraping text output.
requirements:
  - HARNESS_EVENTS_FILE set in the environment
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "harness_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        path = os.environ.get("HARNESS_EVENTS_FILE")
        self._out = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self._play = ""

    def _emit(self, event: str, **fields) -> None:
        if self._out is None:
            return
        fields.update(event=event, time=round(time.time(), 3))
        self._out.write(json.dumps(fields, default=str) + "\n")
        self._out.flush()

    def v2_playbook_on_play_start(self, play) -> None:
        self._play = play.get_name()
        self._emit("play_start", play=self._play)

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._emit("task_start", play=self._play, task=task.get_name())

    def _result(self, event: str, result, **extra) -> None:
        task = result._task
        body = result._result
        self._emit(
            event,
            play=self._play,
            task=task.get_name(),
            host=result._host.get_name(),
            msg=str(body.get("msg", "")),
            stderr=str(body.get("stderr", ""))[-2000:],
            ignore_errors=bool(task.ignore_errors),
            **extra,
        )

    def _failure(self, event: str, result) -> None:
        """A failure keeps what it has besides `msg`: a task may fail with only an rc or an exception."""
        body = result._result
        self._result(
            event,
            result,
            rc=body.get("rc"),
            module_stdout=str(body.get("module_stdout", ""))[-2000:],
            exception=str(body.get("exception", ""))[-2000:],
            items=_failed_items(body),
            ignore_unreachable=bool(getattr(result._task, "ignore_unreachable", False)),
        )

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._failure("failed", result)

    def v2_runner_on_unreachable(self, result) -> None:
        self._failure("unreachable", result)

    def v2_runner_on_ok(self, result) -> None:
        self._result("ok", result, changed=bool(result._result.get("changed")))

    def v2_runner_on_skipped(self, result) -> None:
        self._emit("skipped", play=self._play, task=result._task.get_name(), host=result._host.get_name())

    def v2_playbook_on_stats(self, stats) -> None:
        hosts = sorted(stats.processed.keys())
        self._emit("stats", hosts={host: stats.summarize(host) for host in hosts})
        if self._out is not None:
            self._out.close()
            self._out = None


def _failed_items(body: dict) -> str:
    """What a loop's failed items say: the task's own msg is only "One or more items failed"."""
    said = []
    for item in body.get("results") or []:
        if isinstance(item, dict) and item.get("failed"):
            said.append(str(item.get("msg") or item.get("stderr") or "").strip())
    return "\n".join(text for text in said if text)[-2000:]
