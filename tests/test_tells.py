"""tools/tells.py, the decoy engineers' diagnosis of a kept feed: its AUC is the textbook one
and a folder that is not a kept feed gets one line and a non-zero exit."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

TOOL = Path(__file__).resolve().parents[1] / "tools" / "tells.py"


def _tool():
    spec = importlib.util.spec_from_file_location("tells", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_auc_counts_pairs_and_half_a_tie():
    auc = _tool().auc
    assert auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert auc(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 0.0
    # pairs (real, fake): (2,1) win, (2,2) half, (2,3) loss, (5,*) three wins: 4.5 of 6
    assert auc(np.array([2.0, 5.0]), np.array([1.0, 2.0, 3.0])) == 4.5 / 6
    assert auc(np.array([np.nan]), np.array([1.0])) == 0.5  # nothing to compare


def test_a_folder_without_a_kept_feed_is_one_line(tmp_path):
    run = subprocess.run(
        [sys.executable, str(TOOL), str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(tmp_path) in lines[0]
    assert "Traceback" not in run.stderr
