"""The tags a repro runs with, each with the reason it was chosen.

The offline base set (what runs in unprivileged containers without downloads), the reported
task's own tag as Kubespray lists it at the ref (the narrowest of its tags: the one that
selects the fewest other tasks), and the load balancer the report's variables switch on.
Roles that other variables switch on (network plugin, container manager) are added only when
the reported task is in them: their other tasks need downloads and a real kubelet.

A tag added only to reach the reported task is beyond what is known to run here: when a task
that only such a tag selects fails first, the run cannot say anything about the report
(`reached_only_by`; the repro says "cannot reproduce here").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from harness.kubespray import source
from harness.kubespray.listing import ListedTask, Listing
from harness.settings import Settings

# What runs offline in unprivileged containers (field notes).
BASE_TAGS = ["asserts", "facts", "etchosts", "haproxy"]
LOADBALANCER_TYPE = "loadbalancer_apiserver_type"
ROLE_SWITCHES = (LOADBALANCER_TYPE, "kube_network_plugin", "container_manager")
DEFAULTS_FILES = ("roles/kubespray-defaults/defaults/main", "roles/kubespray_defaults/defaults/main")


@dataclass
class TagChoice:
    tags: list[str]
    reasons: list[str] = field(default_factory=list)
    # Tags added only to reach the reported task: beyond what is known to run in containers.
    reaching: list[str] = field(default_factory=list)

    def add(self, tag: str, reason: str, reaching: bool = False) -> None:
        if tag not in self.tags:
            self.tags.append(tag)
            if reaching:
                self.reaching.append(tag)
        self.reasons.append(f"{tag}: {reason}")

    def reached_only_by(self, entries: list[ListedTask]) -> str | None:
        """The tag, of those added to reach the reported task, under which a task (its listed
        entries) ran when no other chosen tag selects it; None when the others select it too."""
        known = [tag for tag in self.tags if tag not in self.reaching]
        if not entries or any(entry.runs_under(known) for entry in entries):
            return None
        return next((tag for tag in self.reaching if any(entry.runs_under([tag]) for entry in entries)), None)


def choose(listing: Listing, task: str, switched: dict[str, str]) -> TagChoice:
    choice = TagChoice(list(BASE_TAGS), [f"{','.join(BASE_TAGS)}: the base set, which runs offline in containers"])
    found = listing.entries(task)
    if not found:
        choice.reasons.append(
            f"TASK [{task}] is not in the task list of {listing.playbook} at this ref, nor is its role (renamed, "
            "or removed): no tag of its own; the verdict says if it never ran"
        )
    elif found[0].inferred:
        choice.reasons.append(
            f"TASK [{task}] is not in the task list of {listing.playbook} (behind a dynamic include): its tags "
            "are those every listed task of its role carries"
        )
    if found and any(entry.runs_under(choice.tags) for entry in found):
        choice.reasons.append(f"TASK [{task}] runs under the base set")
    elif found:
        entry, tag = min(
            ((entry, listing.narrowest_tag(entry)) for entry in found),
            key=lambda pair: listing.carrying(pair[1]) if pair[1] else 1 << 30,
        )
        if tag:
            carried = f"{listing.carrying(tag)} tasks carry it"
            reason = f"the narrowest of TASK [{task}]'s tags ({', '.join(sorted(entry.tags))}): {carried}"
            choice.add(tag, reason, reaching=True)
    listed_tags = {tag for entry in listing.tasks for tag in entry.tags}
    for variable, value in switched.items():
        if variable == LOADBALANCER_TYPE and value in choice.reaching:
            choice.reaching.remove(value)  # the localhost balancer's role runs in containers
        if value not in listed_tags or value in choice.tags:
            continue
        if variable == LOADBALANCER_TYPE:
            choice.add(value, f"{variable} is {value}: the API server load balancer the nodes run")
        elif any(value in entry.tags for entry in found):
            choice.add(value, f"{variable} is {value}, and the reported task is in it", reaching=True)
        else:
            choice.reasons.append(f"{value} ({variable}) not added: the reported task is not in it")
    return choice


def switched_roles(settings: Settings, sha: str, variables: list[dict[str, Any]]) -> dict[str, str]:
    """The role switches' values: the report's (later layers win), else Kubespray's defaults at `sha`."""
    values: dict[str, str] = {}
    for layer in [_defaults(settings, sha), *variables]:
        for variable in ROLE_SWITCHES:
            value = layer.get(variable)
            if isinstance(value, str) and value and "{" not in value:
                values[variable] = value
    return values


def _defaults(settings: Settings, sha: str) -> dict[str, Any]:
    """The role switches as Kubespray's defaults set them at `sha`, read as plain YAML (never templated)."""
    repo = source.ensure_clone(settings)
    found: dict[str, Any] = {}
    for directory in DEFAULTS_FILES:
        listed = source.git(repo, "ls-tree", "--name-only", sha, f"{directory}/", check=False).splitlines()
        listed += source.git(
            repo, "ls-tree", "--name-only", sha, f"{directory}.yml", f"{directory}.yaml", check=False
        ).splitlines()
        for path in listed:
            try:
                document = yaml.safe_load(source.git(repo, "show", f"{sha}:{path}", check=False))
            except yaml.YAMLError:
                continue
            if isinstance(document, dict):
                found.update({key: document[key] for key in ROLE_SWITCHES if key in document})
    return found
