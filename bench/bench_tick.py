"""Firmware tick cost and heap: bytes allocated, time and peak heap per configuration.

    python bench/bench_tick.py [--ticks 5000] [--cse]

Each configuration provisions a board folder and runs tests/mpy/tick_probe.py on it under the
MicroPython Unix port (64-bit). Time is reported as a ratio to one bare HMAC-SHA256 of a
record measured in the same process (machines are noisy; the ratio travels better than
microseconds). The heap columns come from bench/mp32/heap_steps.py on the firmware as `veil
deploy` builds it (.mpy): the peak (high-water mark: boot, then 200 ticks) on the Unix port and,
when Node.js and `npm ci --prefix bench/mp32` are there, on the 32-bit WebAssembly port with
ESP32-sized integers, beside the ESP32's budget (boards/esp32-devkitc.toml), and the garbage a
tick leaves there. The mqtt row publishes to a port where no broker listens (link down: the
outbox keeps everything). With --cse, one more row publishes through the outbox into a real
ACME oneM2M CSE started here (its time is the CSE's pace, not the board's; the point is the
garbage and the heap). Record results in docs/benchmarks.md.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from veil import dataset
from veil.boards.boardfile import load
from veil.boards.deploy import build
from veil.boards.netconfig import sink_settings
from veil.boards.provision import board_config, stage
from veil.dataset import Series
from veil.firmware import firmware_dir
from veil.owner.home import Home
from veil.privacy.profile import fit_series
from veil.protocol import DeviceSpec

# The local servers are test infrastructure, not part of veil: tests/services.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from services import AcmeCse

PROBE = Path(__file__).resolve().parents[1] / "tests" / "mpy" / "tick_probe.py"
MP32 = Path(__file__).resolve().parent / "mp32"
STEPS = MP32 / "heap_steps.py"


ROOM = Path(__file__).resolve().parents[1] / "host" / "veil" / "sim" / "data" / "room_occupancy.csv"
COLUMNS = ["S1_Temp", "S1_Light", "S5_CO2", "S6_PIR", "S2_Temp", "S2_Light", "S3_Temp", "S7_PIR"]


def series(rows: int, channels: int) -> Series:
    """`rows` ticks of the shipped room data, `channels` of its columns."""
    return dataset.cycled(dataset.load(ROOM, channels=COLUMNS[:channels]), rows)


def heap_steps(board: Path, bundle: Path, exe: str) -> dict:
    """bench/mp32/heap_steps.py on a fresh board folder: the 64-bit figures, and the 32-bit
    ones when Node.js and the npm package are installed (else None)."""

    def figures(cmd, cwd, env=None) -> dict:
        out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True)
        pairs = [ln.split() for ln in out.stdout.splitlines()]
        return {f[0]: int(f[1]) for f in pairs if len(f) == 2 and f[1].isdigit()}

    copy = board.with_name(board.name + "-64")
    shutil.copytree(board, copy)
    env = dict(os.environ, MICROPYPATH=f"{bundle}:.frozen")
    big = figures([exe, "-X", "heapsize=4m", str(STEPS), "200"], copy, env)
    node = shutil.which("node")
    small = None
    if node and (MP32 / "node_modules").is_dir():
        run = [node, str(MP32 / "run.mjs"), "--heap", "400000", "--cwd", str(board)]
        small = figures([*run, "--path", str(bundle), str(STEPS), "200"], board)
    return {
        "peak_64": big["peak"],
        "peak_32": small and small["peak"],
        "device_32": small and small["device"],
        "garbage_32": small and small["garbage"],
    }


def probe(tmp: Path, home: Home, k: int, channels: int, ticks: int, profile, sink=None) -> dict:
    board = tmp / f"board-{k}-{channels}-{sink['type'] if sink else 'spool'}"
    board.mkdir()
    bundle = tmp / "bundle"
    if not bundle.is_dir():
        build(bundle)
    data = series(2 * ticks + 500, channels)
    spec = DeviceSpec("bench", k, 0, tuple(data.channels))
    settings = {"pace": "fast", **({"sink": sink} if sink else {})}
    stage(board, home, board_config(spec, **settings), profile=profile, series=data)
    (board / "ca.der").write_bytes(bytes(900))  # for the mqtt row (a CA no TLS gets to use)
    exe = shutil.which("micropython", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env = dict(os.environ, MICROPYPATH=f"{firmware_dir()}:.frozen")
    out = subprocess.run(
        [exe, str(PROBE), str(ticks)],
        cwd=board,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    out = [line for line in out if not line.startswith("veil:")]  # the sink's log
    alloc, garbage, us, hmac_us = (float(x) for x in out[0].split())
    heap = [int(x) for x in out[1].split()]
    fresh = tmp / (board.name + "-heap")
    fresh.mkdir()
    stage(fresh, home, board_config(spec, **settings), profile=profile, series=data)
    (fresh / "ca.der").write_bytes(bytes(900))
    steps = heap_steps(fresh, bundle, exe)
    return {
        **steps,
        "sink": sink["type"] if sink else "spool",
        "ticks": ticks,
        "k": k,
        "channels": channels,
        "bytes_per_tick": alloc / ticks,
        "garbage_per_tick": garbage,
        "us_per_tick": us / ticks,
        "hmac_us": hmac_us,
        "tick_in_hmacs": us / ticks / hmac_us,
        "heap_growth": max(heap[1:]) - heap[0],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=5000)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--cse", action="store_true", help="add a row publishing into ACME")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "home")
        home.keygen()
        # Each device's profile fitted on its own columns, as `veil profile fit` gives it (a
        # device's channels share its quantile rows: fewer channels, more rows each), with
        # the home's occupancy from all of them (it shows in light, CO2 and motion).
        occupancy = fit_series(series(2000, len(COLUMNS)))["occupancy"]
        profiles = {ch: fit_series(series(2000, ch), occupancy=occupancy) for ch in (1, 4, 6, 8)}
        for k, ch in ((2, 4), (4, 1), (4, 4), (4, 6), (4, 8), (8, 4)):
            rows.append(probe(Path(tmp), home, k, ch, args.ticks, profiles[ch]))
        down = {"type": "mqtt", "host": "127.0.0.1", "port": 9, "ca": "ca.der", "user": "bench"}
        rows.append(probe(Path(tmp), home, 4, 6, args.ticks, profiles[6], down))
        if args.cse:
            with AcmeCse(Path(tmp) / "acme") as cse:
                sink = sink_settings("bench", onem2m_url=cse.url).sink
                rows.append(probe(Path(tmp), home, 4, 4, min(args.ticks, 1000), profiles[4], sink))
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    budget = load("esp32-devkitc").heap
    print("firmware tick under MicroPython Unix port; heap also on the 32-bit port")
    print(
        "| sink | ticks | k | channels | garbage / tick | allocated / tick (incl. freed frames) "
        "| µs / tick | tick in HMACs | heap growth | peak heap 64-bit | peak heap 32-bit "
        "| of the ESP32's budget | garbage / tick 32-bit |"
    )
    print("| --- |" + " ---: |" * 12)
    for r in rows:
        p32 = r["peak_32"]
        print(
            f"| {r['sink']} | {r['ticks']} | {r['k']} | {r['channels']} "
            f"| {r['garbage_per_tick']:.0f} B "
            f"| {r['bytes_per_tick']:.0f} B | {r['us_per_tick']:.0f} "
            f"| {r['tick_in_hmacs']:.0f} | {r['heap_growth']} B | {r['peak_64']:,} B "
            + (
                f"| {p32:,} B | {p32 / budget:.0%} | {r['garbage_32']} B |"
                if p32
                else "| - | - | - |"
            )
        )
    print(f"(one HMAC-SHA256 of a record: {rows[0]['hmac_us']:.1f} µs; ESP32 budget {budget:,} B)")


if __name__ == "__main__":
    main()
