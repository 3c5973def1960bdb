"""The tick loop under the MicroPython binary: flat heap over 10,000 ticks (k=4, 4 channels)."""

from veil import dataset
from veil.privacy.profile import fit_series

from conftest import REPO, ROOM, ROOM_CHANNELS, micropython, run_firmware


def test_heap_is_flat_over_10000_ticks(home, tmp_path):
    room = dataset.load(ROOM, channels=ROOM_CHANNELS)
    series = dataset.cycled(room, 20_500)
    board = tmp_path / "board"
    run_firmware(home, board, dataset.cycled(room, 1), profile=fit_series(room))
    series.write_replay(board / "replay.csv")
    p = micropython(REPO / "tests" / "mpy" / "tick_probe.py", "10000", cwd=board)
    assert p.returncode == 0, p.stdout + p.stderr
    counts, heap = p.stdout.strip().splitlines()
    total, garbage = (float(x) for x in counts.split()[:2])
    heap = [int(x) for x in heap.split()]
    assert max(heap[1:]) <= heap[0], f"live heap over 10,000 ticks: {heap}"
    assert garbage > 0 and total > garbage  # the probe does measure: hashing leaves garbage
