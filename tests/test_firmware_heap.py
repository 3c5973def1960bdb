"""The tick loop under the MicroPython binary: flat heap over 10,000 ticks (k=4, 4 channels)."""

import random

from veil.dataset import Series
from veil.protocol import Channel

from conftest import REPO, micropython, run_firmware


def synthetic(rows: int, channels: int = 4) -> Series:
    rng = random.Random(1)
    chans = [Channel(f"c{i}", 2, -4000, 8500) for i in range(channels)]
    hints = [{"mu": 2000, "sd": 300, "q": 1, "min": 0, "max": 5000}] * channels
    times = [1_700_000_000 + 30 * i for i in range(rows)]
    data = [[rng.randrange(0, 5000) for _ in chans] for _ in range(rows)]
    return Series(times, chans, hints, data)


def test_heap_is_flat_over_10000_ticks(home, tmp_path):
    board = tmp_path / "board"
    series = synthetic(20_500)
    run_firmware(
        home, board, Series(series.times[:1], series.channels, series.hints, series.rows[:1])
    )
    series.write_replay(board / "replay.csv")
    p = micropython(REPO / "tests" / "mpy" / "tick_probe.py", "10000", cwd=board)
    assert p.returncode == 0, p.stdout + p.stderr
    counts, heap = p.stdout.strip().splitlines()
    total, garbage = (float(x) for x in counts.split()[:2])
    heap = [int(x) for x in heap.split()]
    assert max(heap[1:]) <= heap[0], f"live heap over 10,000 ticks: {heap}"
    assert garbage > 0 and total > garbage  # the probe does measure: hashing leaves garbage
