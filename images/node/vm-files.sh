#!/bin/sh
# Docker bind-mounts /etc/hosts, /etc/resolv.conf and /etc/hostname into the
# container. Kubespray replaces resolv.conf by rename (EBUSY on a mount point)
# and the harness checks what Kubespray writes to /etc/hosts, not what Docker
# wrote. Turn them into ordinary files, as on a VM, then start systemd.
set -eu
for f in /etc/hosts /etc/resolv.conf /etc/hostname; do
  if grep -q " $f " /proc/self/mountinfo; then
    content=$(cat "$f")
    umount "$f"
    printf '%s\n' "$content" > "$f"
  fi
done
exec "$@"
