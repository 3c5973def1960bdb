"""The decoys are pinned: a fixed key, profile and real readings give the fakes recorded in
tests/vectors/decoys.json (tools/make_decoy_vectors.py), under MicroPython as on a board and
under CPython with stand-ins for MicroPython's modules: the firmware's integer arithmetic means
the same on both, and a change to the algorithm shows."""

import json
import os
import subprocess
import sys

from conftest import REPO, micropython

VECTORS = REPO / "tests" / "vectors" / "decoys.json"
SCRIPT = REPO / "tests" / "mpy" / "check_decoys.py"


def test_the_vectors_cross_a_redeal_and_a_sensor_failure():
    vec = json.loads(VECTORS.read_text())
    assert len({t["real"] for t in vec["ticks"]}) == 2
    assert any(t["failed"] for t in vec["ticks"])
    fakes = [[row[t] for t in range(4) if t != tick["real"]] for row, tick in
             zip(vec["expected"], vec["ticks"], strict=True)]  # fmt: skip
    assert len({json.dumps(f) for f in fakes}) > 100  # the fakes move


def test_micropython_makes_the_recorded_fakes(tmp_path):
    p = micropython(SCRIPT, str(VECTORS), cwd=tmp_path)
    assert p.returncode == 0 and "0 differ" in p.stdout, p.stdout + p.stderr


def test_cpython_makes_the_same_fakes(tmp_path):
    path = os.pathsep.join([str(REPO / "firmware"), str(REPO / "tests" / "shims")])
    p = subprocess.run(
        [sys.executable, str(SCRIPT), str(VECTORS)],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0 and "0 differ" in p.stdout, p.stdout + p.stderr
