#!/bin/sh
# Make the container behave like a VM, then start systemd.
set -eu

# Docker bind-mounts /etc/hosts, /etc/resolv.conf and /etc/hostname into the
# container. Kubespray replaces resolv.conf by rename (EBUSY on a mount point)
# and the harness checks what Kubespray writes to /etc/hosts, not what Docker
# wrote. Turn them into ordinary files, as on a VM.
for f in /etc/hosts /etc/resolv.conf /etc/hostname; do
  if grep -q " $f " /proc/self/mountinfo; then
    content=$(cat "$f")
    umount "$f"
    printf '%s\n' "$content" > "$f"
  fi
done

# systemd lists unit files (Ansible's service_facts, `systemctl list-unit-files`)
# with ~100,000 readlink/open calls; on a fuse-overlayfs storage driver that
# takes seconds per call, against milliseconds on a VM's disk. Serve the unit
# directories from tmpfs copies. Where mounting is not allowed, keep them as they are.
for d in /usr/lib/systemd/system /etc/systemd/system; do
  copy=$(mktemp -d /run/units.XXXXXX)
  cp -a "$d/." "$copy/"
  if mount -t tmpfs -o mode=0755 tmpfs "$d" 2>/dev/null; then
    cp -a "$copy/." "$d/"
  fi
  rm -rf "$copy"
done

# systemd mounts the kernel's host-wide pseudo filesystems read-write when it finds
# them unmounted: securityfs (its lockdown file locks the host's kernel down), pstore
# (the host's crash records), bpffs, fusectl (aborting a FUSE connection would break
# the host's fuse-overlayfs storage). A node has no business there: cover each with an
# empty read-only tmpfs, so systemd finds them mounted and leaves them.
for d in /sys/kernel/security /sys/fs/pstore /sys/fs/bpf /sys/fs/fuse/connections; do
  if [ -d "$d" ] && ! grep -q " $d " /proc/self/mountinfo; then
    mount -t tmpfs -o ro,nosuid,nodev,noexec,size=4k tmpfs "$d"
  fi
done

# systemd keeps its services' cgroups in a hierarchy of its own; Docker mounts the node's
# cgroups read-only. Mount that hierarchy afresh, read-write: in the node's private cgroup
# namespace a fresh mount shows the node's own cgroup as its root (no release_agent there).
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
  umount /sys/fs/cgroup
  mount -t cgroup2 -o rw,nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
elif grep -q " /sys/fs/cgroup/systemd " /proc/self/mountinfo; then
  umount /sys/fs/cgroup/systemd
  mount -t cgroup -o rw,nosuid,nodev,noexec,none,name=systemd cgroup /sys/fs/cgroup/systemd
fi

# Everything above needed SYS_ADMIN; nothing below may have it. systemd starts without it
# in its bounding set, so no process of the node (sshd, whatever Kubespray runs through it,
# a unit a task writes) can mount, remount /proc/sys, or gain it back. Only `docker exec`,
# which the harness alone uses (the controller has no Docker socket), still holds it.
exec setpriv --bounding-set -sys_admin --inh-caps -sys_admin -- "$@"
