"""Deploying the firmware: bundle size and the time of a deploy, on the virtual board.

    python bench/bench_deploy.py [--rounds 3]

The reference, measured in the same run, is copying the firmware's source tree with one
`mpremote cp -r` (the manual way). Sizes are exact; times are medians over the rounds and
are read as ratios to the reference. Record results in docs/benchmarks.md.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from veil.boards.deploy import build, deploy
from veil.boards.link import BoardLink
from veil.firmware import firmware_dir
from veil.sim.vboard import VirtualBoard


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = (
        "copy source tree with mpremote cp -r (reference)",
        "build bundle (mpy-cross)",
        "deploy to an empty board",
        "deploy, nothing changed",
        "deploy, one module changed",
    )
    rows = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bundle = build(tmp / "bundle")
        files, size, source = len(bundle.files), bundle.size, bundle.source_bytes
        for r in range(args.rounds):
            ref_root, root = tmp / f"ref{r}", tmp / f"board{r}"
            ref_root.mkdir()
            root.mkdir()
            with VirtualBoard(ref_root) as vb:
                cmd = [sys.executable, "-m", "mpremote", "connect", vb.port, "resume", "cp", "-r"]
                cmd += [str(p) for p in sorted(firmware_dir().iterdir()) if p.name != "__pycache__"]
                cmd.append(":")
                rows[names[0]].append(
                    timed(partial(subprocess.run, cmd, check=True, capture_output=True))
                )
            rows[names[1]].append(timed(partial(build, tmp / f"b{r}")))
            with VirtualBoard(root) as vb:
                run = partial(deploy, BoardLink(vb.port), bundle)
                rows[names[2]].append(timed(run))
                rows[names[3]].append(timed(run))
                (root / "veil" / "decoy.mpy").write_bytes(b"old")
                rows[names[4]].append(timed(run))
    ref = statistics.median(rows[names[0]])
    print(f"bundle: {files} files, {size} bytes (.mpy + main.py); source {source} bytes\n")
    print("| what | median time | ratio to reference |")
    print("| --- | ---: | ---: |")
    for what, times in rows.items():
        t = statistics.median(times)
        print(f"| {what} | {t:.2f} s | {t / ref:.2f} |")


if __name__ == "__main__":
    main()
