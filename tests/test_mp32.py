"""The firmware on a 32-bit MicroPython (the WebAssembly port under Node.js, bench/mp32): it
fits the smallest board's heap. Skipped when Node.js or the npm package is not installed
(`npm ci --prefix bench/mp32`); the cryptolib stand-in it needs is checked on the Unix port."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from veil import dataset
from veil.boards import budget
from veil.boards.deploy import build

from conftest import REPO, ROOM, micropython, provision_folder

MP32 = REPO / "bench" / "mp32"
COLUMNS = ["S1_Temp", "S1_Light", "S5_CO2", "S6_PIR", "S2_Temp", "S2_Light"]

STAND_IN_CHECK = """
import cryptolib, gc, os, sys
sys.path.insert(0, %r)
import stand_in
for klen in (16, 32):
    for _ in range(40):
        key, block = os.urandom(klen), os.urandom(16)
        a, b = bytearray(16), bytearray(16)
        cryptolib.aes(key, 1).encrypt(block, a)
        stand_in.aes(key, 1).encrypt(block, b)
        assert a == b, (key, block)
e = stand_in.aes(os.urandom(32), 1)
out = bytearray(16)
gc.collect()
gc.disable()
before = gc.mem_alloc()
e.encrypt(out, out)
print("garbage", gc.mem_alloc() - before)
"""


def test_the_cryptolib_stand_in_is_aes_and_allocates_nothing(tmp_path):
    shutil.copy(MP32 / "stand_ins" / "cryptolib.py", tmp_path / "stand_in.py")
    (tmp_path / "check.py").write_text(STAND_IN_CHECK % str(tmp_path))
    p = micropython(tmp_path / "check.py", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "garbage 0" in p.stdout


def run32(board, script, *args, heap=400_000):
    """A bench/mp32 probe on the firmware as `veil deploy` builds it; its `name number` lines."""
    node = shutil.which("node")
    if not node or not (MP32 / "node_modules").is_dir():
        pytest.skip("needs Node.js and `npm ci --prefix bench/mp32`")
    build(board.parent / "bundle")
    command = [node, MP32 / "run.mjs", "--heap", str(heap), "--cwd", board]
    p = subprocess.run(
        [*command, "--path", board.parent / "bundle", MP32 / script, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    pairs = [ln.split() for ln in p.stdout.splitlines()]
    return {f[0]: int(f[1]) for f in pairs if len(f) == 2 and f[1].isdigit()}


MQTT = {"type": "mqtt", "host": "broker.invalid", "port": 8883, "ca": "ca.der", "user": "d"}


@pytest.mark.parametrize("sink", [None, MQTT], ids=["spool", "mqtt"])
def test_a_six_channel_device_fits_the_smallest_board_on_32_bits(home, tmp_path, sink):
    """Booted and ticking (over MQTT with the link down: the socket stand-in), within the
    ESP32's heap, and within what veil.boards.budget estimates for it."""
    board = tmp_path / "board"
    series = dataset.cycled(dataset.load(ROOM, channels=COLUMNS), 200)
    provision_folder(home, board, series, k=4, **({"sink": sink} if sink else {}))
    (board / "ca.der").write_bytes(bytes(900))
    got = run32(board, "heap_steps.py", 100)
    heap, _ = budget.budget(None)
    config = json.loads((board / "config.json").read_text())
    profile = home.profile(config["device"])  # as the home keeps it (its tables in base64)
    assert 0 < got["device"] < got["peak"] <= budget.needed(config, profile) <= heap, got
