"""One Kubespray clone per machine (a mirror in the cache), refs resolved to shas,
and a git worktree per run. Kubespray's code never enters this repository."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import CommandFailed, HarnessError, disk_full_message, is_disk_full
from harness.settings import Settings, cache_lock

SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")


def clone_dir(settings: Settings) -> Path:
    return settings.cache_dir / "kubespray.git"


def git(repo: Path, *args: str, check: bool = True) -> str:
    argv = ["git", f"--git-dir={repo}", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise CommandFailed("git", argv, proc.stdout + proc.stderr)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def ensure_clone(settings: Settings) -> Path:
    """The cached mirror of KUBESPRAY_REPO, created on first use."""
    repo = clone_dir(settings)
    with cache_lock(settings, "kubespray"):
        if (repo / "HEAD").exists():
            return repo
        source = settings.kubespray_repo
        if "://" not in source and not source.startswith("git@") and not Path(source).exists():
            raise HarnessError(
                f"KUBESPRAY_REPO={source!r} is neither a URL nor an existing path: "
                "point it at a Kubespray clone or leave it unset for the upstream URL"
            )
        tmp = repo.with_suffix(".partial")
        subprocess.run(["rm", "-rf", str(tmp)], check=True)
        argv = ["git", "clone", "--mirror", "--quiet", source, str(tmp)]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            subprocess.run(["rm", "-rf", str(tmp)], check=False)  # a half clone helps nobody
            if is_disk_full(proc.stderr):
                raise HarnessError(disk_full_message(f"cloning Kubespray into {settings.cache_dir}"))
            raise HarnessError(
                f"cannot clone Kubespray from {source}: {_last_line(proc.stderr)}; "
                "set KUBESPRAY_REPO to a reachable URL or a local clone"
            )
        tmp.rename(repo)
    return repo


def is_branch(repo: Path, ref: str) -> bool:
    return bool(git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{ref}", check=False))


def fetch(repo: Path) -> bool:
    """Refresh the mirror from its origin; False when the origin does not answer."""
    argv = ["git", f"--git-dir={repo}", "fetch", "--prune", "--quiet", "origin"]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def resolve(settings: Settings, ref: str) -> str:
    """Full sha of a tag, branch or (abbreviated) commit. Branches move: fetch first."""
    if not ref or ref.startswith("-"):
        raise HarnessError(f"{ref!r} is not a Kubespray ref: give a tag, branch or commit sha")
    repo = ensure_clone(settings)
    sha = _rev_parse(repo, ref)
    if sha is None or is_branch(repo, ref):
        with cache_lock(settings, "kubespray"):
            fetch(repo)
        sha = _rev_parse(repo, ref) or sha
    if sha is None:
        raise HarnessError(
            f"unknown Kubespray ref {ref!r}: not a tag, branch or commit of {settings.kubespray_repo}; "
            "check the spelling (git ls-remote --tags) or point KUBESPRAY_REPO at a clone that has it"
        )
    return sha


def _rev_parse(repo: Path, ref: str) -> str | None:
    return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False) or None


def add_worktree(settings: Settings, sha: str, path: Path, checkout: bool = True) -> Path:
    repo = ensure_clone(settings)
    with cache_lock(settings, "kubespray"):
        git(repo, "worktree", "add", "--detach", "--force", *([] if checkout else ["--no-checkout"]), str(path), sha)
    return path


def worktree_sha(path: Path) -> str:
    proc = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def remove_worktree(settings: Settings, path: Path) -> None:
    repo = clone_dir(settings)
    with cache_lock(settings, "kubespray"):
        git(repo, "worktree", "remove", "--force", str(path), check=False)
        git(repo, "worktree", "prune", check=False)


@dataclass(frozen=True)
class Change:
    """A change applied to a run's worktree before it runs: a fix or a backport under test."""

    kind: str  # "patch" (a diff file) or "cherry-pick" (a commit of the clone)
    target: str  # the diff's path, or the commit's full sha

    def describe(self) -> str:
        return f"--patch {self.target}" if self.kind == "patch" else f"--cherry-pick {self.target[:12]}"

    def argv(self) -> list[str]:
        """The option that gives this change to `harness run`."""
        return [f"--{self.kind}", self.target]


def with_changes(described: list[str]) -> str:
    """' with --cherry-pick abc, --patch x.diff' for titles and progress lines; '' without changes."""
    return f" with {', '.join(described)}" if described else ""


def patch_change(path: Path) -> Change:
    if not path.is_file():
        raise HarnessError(f"--patch {path}: no such file; give a diff made with `git diff` or `git format-patch`")
    return Change("patch", str(path.resolve()))


def cherry_pick_change(settings: Settings, ref: str) -> Change:
    try:
        return Change("cherry-pick", resolve(settings, ref))
    except HarnessError as exc:
        raise HarnessError(f"--cherry-pick {ref}: {exc.message}") from exc


def apply_change(worktree: Path, change: Change) -> None:
    """Apply a change to the worktree's files (no commit: the run's sha stays the ref's)."""
    if change.kind == "patch":
        argv = ["git", "-C", str(worktree), "apply", "--whitespace=nowarn", change.target]
    else:
        mainline = ["-m", "1"] if _is_merge(worktree, change.target) else []
        argv = ["git", "-C", str(worktree), "cherry-pick", "--no-commit", *mainline, change.target]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HarnessError(
            f"{change.describe()} does not apply to {worktree_sha(worktree)[:12]}: "
            f"{_last_line(proc.stdout + proc.stderr)}; rebase the change onto this ref",
            log_tail=(proc.stdout + proc.stderr).strip(),
        )


def _is_merge(worktree: Path, sha: str) -> bool:
    proc = subprocess.run(
        ["git", "-C", str(worktree), "rev-list", "--parents", "-n", "1", sha],
        capture_output=True,
        text=True,
        check=False,
    )
    return len(proc.stdout.split()) > 2


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"


# Kubespray maintains its latest three minor releases (release-X.Y branches).
SUPPORTED_RELEASES = 3
RELEASE_BRANCH = re.compile(r"^release-(\d+)\.(\d+)$")
RELEASE_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")  # final releases only, no -rc/-alpha


def supported_release_branches(settings: Settings) -> list[str]:
    """The release-X.Y branches Kubespray still supports: the latest three of the clone, oldest first."""
    return _supported_branches(_fetched_clone(settings))


def latest_release_tags(settings: Settings) -> list[str]:
    """The latest vX.Y.Z tag of each supported release branch (a branch without one yet is left out)."""
    repo = _fetched_clone(settings)
    tags = _names(repo, "refs/tags/", RELEASE_TAG)
    latest = []
    for branch in _supported_branches(repo):
        minor = tuple(int(part) for part in RELEASE_BRANCH.match(branch).groups())
        of_branch = [(name, version) for name, version in tags if version[:2] == minor]
        if of_branch:
            latest.append(max(of_branch, key=lambda item: item[1])[0])
    return latest


def _fetched_clone(settings: Settings) -> Path:
    repo = ensure_clone(settings)
    with cache_lock(settings, "kubespray"):
        fetch(repo)  # branches move and tags appear: ask the origin first
    return repo


def _supported_branches(repo: Path) -> list[str]:
    branches = _names(repo, "refs/heads/", RELEASE_BRANCH)
    return [name for name, _ in sorted(branches, key=lambda item: item[1])[-SUPPORTED_RELEASES:]]


def _names(repo: Path, prefix: str, pattern: re.Pattern[str]) -> list[tuple[str, tuple[int, ...]]]:
    """(name, version numbers) of the refs under `prefix` whose names match `pattern`."""
    found = []
    for ref in git(repo, "for-each-ref", "--format=%(refname:lstrip=2)", prefix).split():
        match = pattern.match(ref)
        if match:
            found.append((ref, tuple(int(part) for part in match.groups())))
    return found
