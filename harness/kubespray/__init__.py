"""Kubespray itself: the cached clone, refs and worktrees, and per-ref Ansible venvs."""
