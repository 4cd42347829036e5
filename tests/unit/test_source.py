"""kubespray.source against a small local git repository standing in for Kubespray; venv.install_key."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.kubespray import source, venv
from harness.settings import Settings

GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _git(repo: Path, *args: str) -> str:
    argv = ["git", "-c", "user.name=Harness Test", "-c", "user.email=harness@example.invalid", "-C", str(repo), *args]
    return subprocess.run(argv, check=True, capture_output=True, text=True, env=GIT_ENV).stdout.strip()


def _commit(repo: Path, version: str) -> str:
    (repo / "VERSION").write_text(version)
    _git(repo, "add", "VERSION")
    _git(repo, "commit", "--quiet", "-m", f"version {version.strip()}")
    return _git(repo, "rev-parse", "HEAD")


@dataclass(frozen=True)
class Upstream:
    path: Path
    first: str  # tagged v1.0.0 (annotated), head of branch release-1.0
    second: str  # head of main


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    repo = tmp_path / "kubespray"
    repo.mkdir()
    _git(repo, "init", "--quiet", "--initial-branch=main")
    first = _commit(repo, "1\n")
    _git(repo, "tag", "-a", "v1.0.0", "-m", "release 1.0.0")
    _git(repo, "branch", "release-1.0")
    second = _commit(repo, "2\n")
    return Upstream(path=repo, first=first, second=second)


@pytest.fixture
def settings(tmp_path: Path, upstream: Upstream) -> Settings:
    return Settings(
        kubespray_repo=str(upstream.path),
        cache_dir=tmp_path / "cache",
        runs_dir=tmp_path / "runs",
        base_image_source="auto",
        debian_mirror="",
        keep_worktree=False,
    )


# --- resolve ----------------------------------------------------------------------------------


def test_resolve_a_tag_gives_the_commit_it_points_at(settings: Settings, upstream: Upstream) -> None:
    tag_object = _git(upstream.path, "rev-parse", "v1.0.0")
    assert tag_object != upstream.first  # annotated: the tag is an object of its own

    assert source.resolve(settings, "v1.0.0") == upstream.first


@pytest.mark.parametrize(
    ("ref", "commit"),
    [
        pytest.param("release-1.0", "first", id="branch"),
        pytest.param("main", "second", id="default-branch"),
    ],
)
def test_resolve_a_branch_gives_its_head(settings: Settings, upstream: Upstream, ref: str, commit: str) -> None:
    assert source.resolve(settings, ref) == getattr(upstream, commit)


@pytest.mark.parametrize("length", [7, 12, 40])
def test_resolve_a_commit_sha_gives_the_full_sha(settings: Settings, upstream: Upstream, length: int) -> None:
    assert source.resolve(settings, upstream.second[:length]) == upstream.second


def test_resolve_gives_forty_hex_digits(settings: Settings) -> None:
    assert source.SHA_RE.fullmatch(source.resolve(settings, "v1.0.0"))
    assert len(source.resolve(settings, "v1.0.0")) == 40


def test_resolve_follows_a_branch_that_moved_upstream(settings: Settings, upstream: Upstream) -> None:
    assert source.resolve(settings, "main") == upstream.second  # clones the mirror
    third = _commit(upstream.path, "3\n")

    assert source.resolve(settings, "main") == third


def test_resolve_fetches_a_tag_made_after_the_clone(settings: Settings, upstream: Upstream) -> None:
    source.resolve(settings, "v1.0.0")  # clones the mirror
    _git(upstream.path, "tag", "v2.0.0", upstream.second)

    assert source.resolve(settings, "v2.0.0") == upstream.second


def test_resolve_clones_once_into_the_cache(settings: Settings, tmp_path: Path) -> None:
    source.resolve(settings, "v1.0.0")
    # KUBESPRAY_REPO is read only to create the cached mirror: once it exists,
    # a tag resolves from the cache even with the origin gone.
    gone = Settings(
        kubespray_repo=str(tmp_path / "gone"),
        cache_dir=settings.cache_dir,
        runs_dir=settings.runs_dir,
        base_image_source="auto",
        debian_mirror="",
        keep_worktree=False,
    )

    assert source.clone_dir(settings) == settings.cache_dir / "kubespray.git"
    assert source.resolve(gone, "v1.0.0") == source.resolve(settings, "v1.0.0")


@pytest.mark.parametrize("ref", ["v9.9.9", "no-such-branch", "deadbeef"])
def test_resolve_an_unknown_ref_names_it(settings: Settings, ref: str) -> None:
    with pytest.raises(HarnessError) as caught:
        source.resolve(settings, ref)

    assert f"unknown Kubespray ref {ref!r}" in caught.value.message
    assert settings.kubespray_repo in caught.value.message


@pytest.mark.parametrize("ref", ["-h", "--upload-pack=touch pwned", "--all", ""])
def test_resolve_refuses_an_option_like_or_empty_ref(settings: Settings, ref: str) -> None:
    with pytest.raises(HarnessError, match="is not a Kubespray ref"):
        source.resolve(settings, ref)

    assert not source.clone_dir(settings).exists()


def test_resolve_with_kubespray_repo_at_a_missing_path(settings: Settings, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-clone")
    settings = Settings(
        kubespray_repo=missing,
        cache_dir=settings.cache_dir,
        runs_dir=settings.runs_dir,
        base_image_source="auto",
        debian_mirror="",
        keep_worktree=False,
    )

    with pytest.raises(HarnessError) as caught:
        source.resolve(settings, "v1.0.0")

    assert f"KUBESPRAY_REPO={missing!r}" in caught.value.message
    assert not source.clone_dir(settings).exists()


def test_ensure_clone_of_a_path_that_is_not_a_repository(settings: Settings, tmp_path: Path) -> None:
    not_a_repo = tmp_path / "plain-folder"
    not_a_repo.mkdir()
    settings = Settings(
        kubespray_repo=str(not_a_repo),
        cache_dir=settings.cache_dir,
        runs_dir=settings.runs_dir,
        base_image_source="auto",
        debian_mirror="",
        keep_worktree=False,
    )

    with pytest.raises(HarnessError, match="cannot clone Kubespray from"):
        source.ensure_clone(settings)

    assert not source.clone_dir(settings).exists()


def test_is_branch(settings: Settings) -> None:
    repo = source.ensure_clone(settings)

    assert source.is_branch(repo, "release-1.0")
    assert not source.is_branch(repo, "v1.0.0")


# --- worktrees --------------------------------------------------------------------------------


def test_add_worktree_checks_out_the_commit(settings: Settings, upstream: Upstream) -> None:
    sha = source.resolve(settings, "v1.0.0")
    path = settings.runs_dir / "run-1" / "kubespray"

    assert source.add_worktree(settings, sha, path) == path

    assert (path / "VERSION").read_text() == "1\n"
    assert _git(path, "rev-parse", "HEAD") == upstream.first


def test_add_worktree_leaves_head_detached(settings: Settings) -> None:
    path = source.add_worktree(settings, source.resolve(settings, "main"), settings.runs_dir / "run-1" / "kubespray")

    assert subprocess.run(["git", "-C", str(path), "symbolic-ref", "-q", "HEAD"], env=GIT_ENV).returncode != 0


def test_two_worktrees_of_different_refs_side_by_side(settings: Settings) -> None:
    old = source.add_worktree(settings, source.resolve(settings, "v1.0.0"), settings.runs_dir / "a" / "kubespray")
    new = source.add_worktree(settings, source.resolve(settings, "main"), settings.runs_dir / "b" / "kubespray")

    assert (old / "VERSION").read_text() == "1\n"
    assert (new / "VERSION").read_text() == "2\n"


def test_remove_worktree_removes_it(settings: Settings) -> None:
    path = source.add_worktree(settings, source.resolve(settings, "main"), settings.runs_dir / "run-1" / "kubespray")
    (path / "scratch.txt").write_text("left behind by a run")

    source.remove_worktree(settings, path)

    assert not path.exists()
    listed = source.git(source.clone_dir(settings), "worktree", "list", "--porcelain")
    assert str(path) not in listed


def test_remove_worktree_of_a_missing_path_is_quiet(settings: Settings, capfd: pytest.CaptureFixture[str]) -> None:
    repo = source.ensure_clone(settings)
    listed = source.git(repo, "worktree", "list", "--porcelain")
    capfd.readouterr()

    source.remove_worktree(settings, settings.runs_dir / "never-created")

    assert capfd.readouterr() == ("", "")
    assert source.git(repo, "worktree", "list", "--porcelain") == listed


# --- venv.install_key ----------------------------------------------------------------------------

REQUIREMENTS = b"ansible==9.13.0\njinja2==3.1.4\nnetaddr==1.3.0\n"


def test_install_key_changes_with_what_the_harness_adds_to_kubesprays_requirements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = venv.install_key(REQUIREMENTS, "3.11")
    monkeypatch.setattr(venv, "EXTRA_REQUIREMENTS", [*venv.EXTRA_REQUIREMENTS, "netaddr==1.3.0"])

    assert venv.install_key(REQUIREMENTS, "3.11") != before


def test_install_key_is_sixteen_hex_characters() -> None:
    key = venv.install_key(REQUIREMENTS, "3.11")

    assert len(key) == 16
    assert int(key, 16) >= 0


def test_install_key_changes_with_the_requirements() -> None:
    pinned_newer = REQUIREMENTS.replace(b"ansible==9.13.0", b"ansible==10.7.0")

    assert venv.install_key(pinned_newer, "3.11") != venv.install_key(REQUIREMENTS, "3.11")


def test_install_key_changes_with_the_python_version() -> None:
    assert venv.install_key(REQUIREMENTS, "3.10") != venv.install_key(REQUIREMENTS, "3.11")


# --- changes (--patch, --cherry-pick) ------------------------------------------------------------


def _side_commit(upstream: Upstream) -> str:
    """A commit off the main line that adds FIX, like a backport on another branch."""
    _git(upstream.path, "checkout", "--quiet", "-b", "fix", upstream.second)
    (upstream.path / "FIX").write_text("fixed\n")
    _git(upstream.path, "add", "FIX")
    _git(upstream.path, "commit", "--quiet", "-m", "add FIX (#123)")
    sha = _git(upstream.path, "rev-parse", "HEAD")
    _git(upstream.path, "checkout", "--quiet", "main")
    return sha


def test_cherry_pick_applies_the_commit_without_moving_head(settings: Settings, upstream: Upstream) -> None:
    fix = _side_commit(upstream)
    worktree = source.add_worktree(settings, upstream.first, settings.runs_dir / "wt")
    source.apply_change(worktree, source.cherry_pick_change(settings, fix[:9]))
    assert (worktree / "FIX").read_text() == "fixed\n"
    assert source.worktree_sha(worktree) == upstream.first


def test_patch_applies_a_diff_file(settings: Settings, upstream: Upstream, tmp_path: Path) -> None:
    diff = tmp_path / "fix.diff"
    diff.write_text("--- a/VERSION\n+++ b/VERSION\n@@ -1 +1 @@\n-1\n+1-patched\n")
    worktree = source.add_worktree(settings, upstream.first, settings.runs_dir / "wt")
    source.apply_change(worktree, source.patch_change(diff))
    assert (worktree / "VERSION").read_text() == "1-patched\n"


def test_a_change_that_does_not_apply_names_itself(settings: Settings, upstream: Upstream, tmp_path: Path) -> None:
    diff = tmp_path / "stale.diff"
    diff.write_text("--- a/VERSION\n+++ b/VERSION\n@@ -1 +1 @@\n-7\n+8\n")
    worktree = source.add_worktree(settings, upstream.first, settings.runs_dir / "wt")
    with pytest.raises(HarnessError, match=r"--patch .*stale.diff does not apply to"):
        source.apply_change(worktree, source.patch_change(diff))


def test_a_missing_patch_file_or_unknown_commit_is_refused(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no such file"):
        source.patch_change(tmp_path / "nope.diff")
    with pytest.raises(HarnessError, match="--cherry-pick nope123"):
        source.cherry_pick_change(settings, "nope123")


# --- the releases Kubespray supports ----------------------------------------------------------


@pytest.fixture
def releases(settings: Settings, upstream: Upstream) -> Settings:
    """Release branches 1.0 (from the fixture), 1.8-1.10 and 2.0 (no tag yet); tags with rc/alpha among them."""
    for minor, tags in {"1.8": ["v1.8.0"], "1.9": ["v1.9.0", "v1.9.1", "v1.9.2-rc.1"], "1.10": ["v1.10.0"]}.items():
        _commit(upstream.path, f"{minor}\n")
        _git(upstream.path, "branch", f"release-{minor}")
        for tag in tags:
            _git(upstream.path, "tag", tag)
    _git(upstream.path, "branch", "release-2.0")
    return settings


def test_the_supported_release_branches_are_the_latest_three_by_version_not_by_name(releases: Settings) -> None:
    assert source.supported_release_branches(releases) == ["release-1.9", "release-1.10", "release-2.0"]


def test_the_latest_release_tag_of_each_supported_branch_skips_pre_releases_and_untagged_branches(
    releases: Settings,
) -> None:
    assert source.latest_release_tags(releases) == ["v1.9.1", "v1.10.0"]


def test_a_release_branch_made_upstream_after_the_clone_is_seen(releases: Settings, upstream: Upstream) -> None:
    source.supported_release_branches(releases)  # the clone exists now
    _git(upstream.path, "branch", "release-2.1")

    assert source.supported_release_branches(releases)[-1] == "release-2.1"


def test_an_extra_the_ref_pins_itself_is_left_to_the_refs_pin() -> None:
    # v2.25.0 pins jsonschema==4.22.0: adding the harness's 4.23.0 made the install unsolvable.
    assert venv.extras_for("ansible==9.5.1\njsonschema==4.22.0\n") == []
    assert venv.extras_for("ansible==10.7.0\n# Needed for community.crypto module\n") == venv.EXTRA_REQUIREMENTS
