"""A short chaos soak in CI: ``python -m tests.soak`` for 45 s of load (fixed seed), both
platform modes, every fault kind; it fails when any invariant breaks (docs/testing.md,
"Chaos soak"). Only a documented limit of the upstream contract (a second request on
the strict platform) is counted apart."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT
from tests.soak.chaos import KINDS

SEED = 2207
MINUTES = 0.75


@pytest.mark.timeout(420)
def test_a_short_chaos_soak_keeps_every_invariant(tmp_path):
    argv = [sys.executable, "-m", "tests.soak", "--minutes", str(MINUTES), "--seed", str(SEED)]
    argv += ["--fault-every", "2.5"]
    argv += ["--out", str(tmp_path / "soak")]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=400)
    report = f"{done.stdout}\n{done.stderr[-20_000:]}"
    assert done.returncode == 0, report
    assert "all invariants hold" in done.stderr, report
    for fault in KINDS:  # a round of faults holds every kind, in a seeded order
        assert f"| {fault} " in done.stdout, f"no {fault!r} injected:\n{report}"
