"""`harness repro`: a Kubespray bug report (GitHub issue form) made into a scenario and run."""
