"""The feed off a board: veil's copy against the link's raw rate through mpremote.

    python bench/bench_fetch.py [--mb 4] [--port PORT]

On the virtual board (or a real one with --port: its spool file is overwritten), a feed of
--mb megabytes is copied off three ways in the same run (median of --rounds copies, `mpremote
cp` once): the reference, the board writing feed-like bytes it holds in RAM into a folder
mpremote mounts (the link's raw rate through mpremote); veil's copy (`veil fetch`, `veil sim`:
the file written into the mounted folder); and `mpremote cp`, which veil used before.
Record results in docs/benchmarks.md.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from veil.boards.fetch import copy_feed
from veil.boards.link import BoardLink
from veil.sim.vboard import VirtualBoard

LINE = b'{"v":1,"dev":"room1","ep":0,"boot":0,"seq":123456,"trk":2,"ts":1513939781,'
LINE += b'"val":{"S1_Temp":24.94,"S1_Light":121,"S5_CO2":390,"S6_PIR":0},'
LINE += b'"tag":"9f0c41d2aa87e6b0c35d10f9e2b4a7c1"}   \n'

RAW = """\
b = {block!r}
with open("/remote/raw", "wb") as g:
    for _ in range({blocks}):
        g.write(b)
"""


def timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def best(rounds: int, f) -> float:
    """The median time of `rounds` runs (the machine is shared: single runs are noisy)."""
    return statistics.median(timed(f) for _ in range(rounds))


def run(link: BoardLink, size: int, local: Path, rounds: int) -> list[tuple[str, float]]:
    lines = size // len(LINE)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "feed.jsonl"
        src.write_bytes(LINE * lines)
        link.mpremote("cp", str(src), ":feed.jsonl", timeout=3600)
    size = lines * len(LINE)
    blocks = size // 4096
    with tempfile.TemporaryDirectory() as mnt:
        raw = best(
            rounds,
            lambda: link.mpremote(
                "mount", mnt, "exec", RAW.format(block=(LINE * 20)[:4096], blocks=blocks)
            ),
        )
    veil = best(rounds, lambda: copy_feed(link, "feed.jsonl", local / "veil.jsonl"))
    cp = timed(lambda: link.mpremote("cp", ":feed.jsonl", str(local / "cp.jsonl"), timeout=3600))
    assert (local / "veil.jsonl").read_bytes() == (local / "cp.jsonl").read_bytes()
    return [
        ("board RAM -> mounted folder (reference)", blocks * 4096 / raw),
        ("veil copy (fetch, sim)", size / veil),
        ("mpremote cp", size / cp),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=4.0)
    ap.add_argument("--port", help="a real board's port (default: a virtual board)")
    ap.add_argument("--rounds", type=int, default=5, help="median of this many copies")
    args = ap.parse_args()
    size = int(args.mb * 1e6)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.port:
            rows = run(BoardLink(args.port), size, tmp, args.rounds)
        else:
            (tmp / "board").mkdir()
            with VirtualBoard(tmp / "board") as vb:
                rows = run(BoardLink(vb.port), size, tmp, args.rounds)
    where = args.port or "virtual board"
    print(f"feed of {size / 1e6:.1f} MB off the {where}")
    print("| copy | kB/s | ratio to reference |")
    print("| --- | ---: | ---: |")
    for name, rate in rows:
        print(f"| {name} | {rate / 1e3:,.0f} | {rate / rows[0][1]:.2f} |")


if __name__ == "__main__":
    main()
