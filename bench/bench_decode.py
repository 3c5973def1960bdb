"""Owner decode throughput beside OpenSSL's HMAC-SHA256 on the same machine, in the same run.

    python bench/bench_decode.py [--records 400000] [--devices 10]

Builds the feed of a home of `--devices` devices (k = 4, four channels, protocol v2, ticks
interleaved as a home's devices publish them) with the reference encoder, stores it in SQLite
and in PostgreSQL (a throw-away server, tests/services.py), then times, each against the
machine's limit: OpenSSL's own HMAC-SHA256 over every record's canonical bytes in C, the key
set once (the floor any verifier pays: one HMAC per record); a Python loop of `hmac.digest`
over the same bytes; and `veil decode` (veil.owner.recover: read, verify every record, real and
fake, account, write the CSV) from the feed file, the SQLite store and the PostgreSQL store.
Each decode runs in a fresh process, which reports its time and its peak memory above what it
held before decoding. Prints a table; record results in docs/benchmarks.md.
"""

import argparse
import hmac
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from veil.owner import native
from veil.owner.home import Home
from veil.platform.ingest import ingest_file
from veil.platform.store import open_store
from veil.protocol import CanonicalPacker, Channel, DeviceSpec, encode_line

CHANNELS = (
    Channel("temp", 2, -4000, 8500),
    Channel("light", 0, 0, 65535),
    Channel("co2", 0, 0, 40000),
    Channel("pir", 0, 0, 1),
)
YEAR = 10 * 4 * 365 * 86400 // 30  # records of a year of ten devices at k = 4, a 30 s tick


def specs(devices: int) -> list[DeviceSpec]:
    return [DeviceSpec(f"dev{d}", 4, 0, CHANNELS, version=2, tz=3600) for d in range(devices)]


def build(home: Home, devices: list[DeviceSpec], records: int) -> tuple[bytes, np.ndarray]:
    """The feed's lines and every record's canonical bytes C(0), as an (n, L) array."""
    keys = home.keys()
    lines, canon = [], []
    packers = [CanonicalPacker(s) for s in devices]
    for seq in range(records // (4 * len(devices))):
        ts = 1_700_000_000 + 30 * seq
        for spec, packer in zip(devices, packers, strict=True):
            values = (2000 + seq % 500, seq % 900, 400 + seq % 1000, seq % 2)
            for trk in range(spec.k):
                line = encode_line(spec, keys, boot=0, seq=seq, trk=trk, ts=ts, values=values)
                lines.append(line + b"\n")
                canon.append(packer.pack(0, 0, 0, seq, trk, ts, values))
    width = len(canon[0])
    return b"".join(lines), np.frombuffer(b"".join(canon), np.uint8).reshape(-1, width)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _child(home: str, source: str, target: str, out: str) -> None:
    """One decode in this fresh process: print its time and its peak resident memory above
    what it held before (Linux: the peak is reset first through /proc/self/clear_refs)."""
    from veil.owner.recover import recover

    Path("/proc/self/clear_refs").write_text("5")
    base = _status_kib("VmRSS")
    where = {"feeds": [target]} if source == "file" else {"store": target}
    t0 = time.perf_counter()
    got = recover(Home(home), Path(out), **where)
    secs = time.perf_counter() - t0
    peak = _status_kib("VmHWM")
    assert got.report.clean, got.report.to_json()
    print(json.dumps({"secs": secs, "kib": peak - base, "readings": got.readings}))


def decode_in_child(home: Path, source: str, target: str, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", str(home), source, target, str(out)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=400_000)
    ap.add_argument("--devices", type=int, default=10)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(*args.child)
    from services import Postgres

    with tempfile.TemporaryDirectory() as tmp, Postgres() as pg:
        tmp = Path(tmp)
        home = Home(tmp / "home")
        home.keygen()
        devices = specs(args.devices)
        for spec in devices:
            home.save_device(spec)
        feed, canon = build(home, devices, args.records)
        n = len(canon)
        path = tmp / "feed.jsonl"
        path.write_bytes(feed)
        for target in (tmp / "p.db", pg.url):
            with open_store(target) as store:
                ingest_file(store, path)
        key = home.keys().real
        rows = [c.tobytes() for c in canon]
        limit = timed(lambda: native.openssl_hmac_loop(key, canon))
        results = [
            ("OpenSSL HMAC-SHA256 in C, key set once (the limit)", limit, None),
            (
                "Python loop of hmac.digest",
                timed(lambda: [hmac.digest(key, c, "sha256") for c in rows]),
                None,
            ),
        ]
        for what, source, target in (
            ("veil decode from the feed file", "file", str(path)),
            ("veil decode from the SQLite store", "store", str(tmp / "p.db")),
            ("veil decode from the PostgreSQL store", "store", pg.url),
        ):
            got = decode_in_child(tmp / "home", source, target, tmp / "real.csv")
            assert got["readings"] == n // 4
            results.append((what, got["secs"], got["kib"]))
    print(
        f"owner decode, {n:,} records ({args.devices} devices, k=4, 4 channels, v2), "
        f"{len(canon[0])}-byte canonical records, one core; tags checked by "
        f"{native.IMPLEMENTATION}; {platform.python_implementation()} "
        f"{platform.python_version()}, pid {os.getpid()}"
    )
    print("| what | records/s | time | ratio to the limit | peak memory per million records |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for what, secs, kib in results:
        mem = "" if kib is None else f"{kib / 1024 / (n / 1e6):,.0f} MiB"
        print(f"| {what} | {n / secs:,.0f} | {secs:.2f} s | {limit / secs:.2f} | {mem} |")
    file_rate = n / results[2][1]
    print(
        f"a year of a ten-device home ({YEAR:,} records) at the file rate: "
        f"{YEAR / file_rate:,.0f} s"
    )


if __name__ == "__main__":
    main()
