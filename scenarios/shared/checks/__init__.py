"""Host checks shared by the scenarios' testinfra tests: parsing what Kubespray wrote."""
