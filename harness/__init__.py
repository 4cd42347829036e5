"""kubespray-harness: run Kubespray's real playbooks against Debian 11 containers."""

__version__ = "0.1.0"
