"""The tasks a Kubespray playbook lists at a ref, with their tags, asked of Kubespray's own Ansible.

`ansible-playbook --list-tasks` runs in a controller container of the ref (its pinned Ansible,
its worktree read-only, no network). Ansible lists every play's tasks whatever hosts the
inventory holds, so the answer depends only on the commit and the playbook, and is cached so.

What it serves: the tags a repro needs (the reported task's own, never a table of the
harness's), and a run's coverage (the share of the playbook's tasks its tags select).
Tasks behind a dynamic `include_tasks` are not listed: Ansible only knows them when it runs.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

import yaml

from harness import controller, images, ownership
from harness.context import new_run_id
from harness.kubespray import source
from harness.settings import Settings

# `  play #3 (k8s_cluster): Prepare nodes\tTAGS: [x]` then `      role : task\tTAGS: [a, b]`
_PLAY = re.compile(r"^\s*play #\d+ \((?P<hosts>.*?)\): (?P<name>.*?)\tTAGS: \[(?P<tags>.*)\]\s*$")
_TASK = re.compile(r"^\s+(?P<name>.*?)\tTAGS: \[(?P<tags>.*)\]\s*$")
# Kubespray's groups, one host each: the playbooks' group checks parse.
LISTING_INVENTORY = {
    "all": {
        "children": {
            "kube_control_plane": {"hosts": {"cp-1": None}},
            "etcd": {"hosts": {"cp-1": None}},
            "kube_node": {"hosts": {"node-1": None}},
            "k8s_cluster": {"children": {"kube_control_plane": None, "kube_node": None}},
        }
    }
}
# Kubespray run as an Ansible collection prints its roles with the collection's name
# (`kubernetes_sigs.kubespray.etcd`); its playbooks from a checkout print `etcd`.
_COLLECTION_PREFIX = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+\.")
# How alike (difflib's ratio, case ignored) a renamed task's old and new names must be.
RENAME_SIMILARITY = 0.9
# Ansible's special tags: `always` runs under any --tags (unless skipped), `never` only when asked.
ALWAYS, NEVER = "always", "never"


@dataclass(frozen=True)
class ListedTask:
    play: str
    name: str
    tags: frozenset[str]
    # Not listed by Ansible (behind a dynamic include): its tags are inferred from its role's (Listing.entries).
    inferred: bool = False

    def runs_under(self, tags: Iterable[str], skip_tags: Iterable[str] = ()) -> bool:
        """Whether `--tags TAGS --skip-tags SKIP` selects this task, by Ansible's rules."""
        chosen, skipped = set(tags), set(skip_tags)
        if self.tags & skipped:
            return False
        if not chosen:
            return NEVER not in self.tags
        return bool(self.tags & chosen) or (ALWAYS in self.tags and NEVER not in self.tags)


@dataclass(frozen=True)
class Listing:
    playbook: str
    tasks: tuple[ListedTask, ...]

    def named(self, name: str) -> list[ListedTask]:
        return [task for task in self.tasks if task.name == name.strip()]

    def entries(self, name: str) -> list[ListedTask]:
        """The task's entries in the listing; for a task Ansible cannot list (loaded by a dynamic
        `include_tasks`, whose tasks Ansible only knows when it runs), one per play its role runs
        in, with the tags every listed task of the role carries in that play: what an included
        task inherits from its role and play. Empty when its role lists no task either."""
        listed = self.named(name)
        if listed:
            return listed
        role = _role(name.strip())
        by_play: dict[str, frozenset[str]] = {}
        for task in self.tasks:
            if role and _role(task.name) == role:
                by_play[task.play] = by_play.get(task.play, task.tags) & task.tags
        return [ListedTask(play, name.strip(), tags, inferred=True) for play, tags in by_play.items() if tags]

    def name_here(self, name: str) -> str | None:
        """The task's name in this listing: its own; or, when Kubespray renamed it between refs
        (its linting recapitalised many, some gained a word), the one task of the same role whose
        name is at least RENAME_SIMILARITY alike and likest; None when there is neither."""
        if self.named(name):
            return name.strip()
        local = without_collection(name)
        if local != name.strip() and any(_role(task.name) == _role(local) for task in self.tasks):
            return self.name_here(local) or local
        role, _, title = name.strip().rpartition(" : ")
        scored = sorted(
            (
                (SequenceMatcher(None, title.lower(), other.rpartition(" : ")[2].lower()).ratio(), other)
                for other in {task.name for task in self.tasks if _role(task.name) == role}
            ),
            reverse=True,
        )
        if not scored or scored[0][0] < RENAME_SIMILARITY:
            return None
        if len(scored) > 1 and scored[1][0] == scored[0][0]:
            return None  # two as alike: no telling which
        return scored[0][1]

    def selected(self, tags: Iterable[str], skip_tags: Iterable[str] = ()) -> list[ListedTask]:
        tags, skip_tags = list(tags), list(skip_tags)
        return [task for task in self.tasks if task.runs_under(tags, skip_tags)]

    def carrying(self, tag: str) -> int:
        """How many of the playbook's tasks carry the tag."""
        return sum(tag in task.tags for task in self.tasks)

    def narrowest_tag(self, task: ListedTask) -> str | None:
        """Of the task's tags, the one the fewest tasks of the playbook carry."""
        candidates = sorted(task.tags - {ALWAYS, NEVER})
        return min(candidates, key=lambda tag: (self.carrying(tag), tag), default=None)


def without_collection(task: str) -> str:
    """`kubernetes_sigs.kubespray.etcd : X` -> `etcd : X`: the task as a checkout's playbooks print it."""
    role, _, title = task.strip().rpartition(" : ")
    return f"{_COLLECTION_PREFIX.sub('', role)} : {title}" if role else task.strip()


def _role(task: str) -> str:
    return task.rpartition(" : ")[0]


def parse(playbook: str, text: str) -> Listing:
    """`ansible-playbook --list-tasks` output -> its tasks, play by play."""
    tasks, play = [], ""
    for line in text.splitlines():
        if match := _PLAY.match(line):
            play = match.group("name")
        elif (match := _TASK.match(line)) and play:
            tags = frozenset(tag.strip() for tag in match.group("tags").split(",") if tag.strip())
            tasks.append(ListedTask(play, match.group("name").strip(), tags))
    return Listing(playbook, tuple(tasks))


def list_tasks(settings: Settings, sha: str, playbook: str, log: Callable[[str], None] = print) -> Listing:
    """The playbook's tasks at `sha` (cached)."""
    cached = cache_file(settings, sha, playbook)
    if cached.is_file():
        return parse(playbook, cached.read_text())
    log(f"listing the tasks of {playbook} at {sha[:12]} with its own Ansible")
    run_id = new_run_id()
    scratch = cached.parent / f"scratch-{run_id}"
    scratch.mkdir(parents=True)
    worktree = scratch / "kubespray"
    try:
        # Owned like a run: if the harness dies here, its guard removes the container and worktree.
        with ownership.own(settings, run_id, (worktree,)):
            source.add_worktree(settings, sha, worktree)
            image = images.ensure_controller_image(settings, worktree / "requirements.txt", log)
            hosts = scratch / "hosts.yml"
            hosts.write_text(yaml.safe_dump(LISTING_INVENTORY))
            # The run id labels the container; "none": a listing needs no network.
            sandbox = controller.Sandbox(image, run_id, "none", scratch, worktree)
            argv = ["ansible-playbook", "-i", sandbox.path_in(hosts), "--list-tasks", playbook]
            text = controller.check_output(sandbox, argv, _env(sandbox), f"listing the tasks of {playbook}")
    finally:
        source.remove_worktree(settings, worktree)
        shutil.rmtree(scratch, ignore_errors=True)
    cached.write_text(text)
    return parse(playbook, text)


def cache_file(settings: Settings, sha: str, playbook: str) -> Path:
    digest = hashlib.sha256(playbook.encode()).hexdigest()[:12]
    directory = settings.cache_dir / "listings"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{sha}-{digest}.txt"


def _env(sandbox: controller.Sandbox) -> dict[str, str]:
    return {
        "ANSIBLE_CONFIG": sandbox.path_in(sandbox.worktree / "ansible.cfg"),
        "ANSIBLE_LOCAL_TEMP": controller.LOCAL_TEMP,
        "ANSIBLE_NOCOLOR": "1",
    }
