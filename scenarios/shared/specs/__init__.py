"""Host specifications shared by the scenarios.

Each module holds testinfra tests (one behaviour each); a scenario's
`tests/test_*.py` imports a module's tests and names the hosts they apply to
with `testinfra_hosts`.
"""
