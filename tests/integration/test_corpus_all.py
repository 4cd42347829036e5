"""`harness corpus`: every real report of the corpus on its buggy commit (reproduced) and on
its fix (not reproduced, the reported task exercised). make test-all only."""

from __future__ import annotations

import json
import subprocess

import pytest
from cli_helpers import HARNESS

pytestmark = [pytest.mark.integration, pytest.mark.long]


def test_every_case_of_the_corpus_holds(tmp_path, docker_engine, kubespray_clone):
    cells = tmp_path / "cells.json"
    argv = [*HARNESS, "corpus", "-j", "1", "--report-json", str(cells), "--table", str(tmp_path / "corpus.md")]

    proc = subprocess.run(argv, capture_output=True, text=True, timeout=4 * 3600, check=False)

    print(proc.stdout[-8000:], proc.stderr[-3000:])
    found = json.loads(cells.read_text())
    wrong = [
        f"{c['scenario']}@{c['ref']}: {c['verdict']} (expected {c['expected']})" for c in found if not c["matches"]
    ]
    assert not wrong and proc.returncode == 0, wrong
