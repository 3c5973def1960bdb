"""Owner decode throughput beside raw HMAC-SHA256 on the same machine, in the same run.

    python bench/bench_decode.py [--records 200000]

Builds a feed of k=4 records of 4 channels with the reference encoder, then times: one bare
HMAC-SHA256 per record over the canonical bytes (the floor any verifier pays), the decoder
verifying pre-parsed records, the decoder on the feed file (JSON parsing included) and on a
platform SQLite store. Prints a table; record results in docs/benchmarks.md.
"""

import argparse
import hmac
import os
import tempfile
import time
from pathlib import Path

from veil.feed import read_feed
from veil.owner.decode import decode
from veil.owner.home import Home
from veil.platform.ingest import ingest_file
from veil.platform.store.sqlite import SqliteStore
from veil.protocol import CanonicalPacker, Channel, DeviceSpec, check_shape, encode_line

SPEC = DeviceSpec(
    "bench",
    4,
    0,
    (
        Channel("temp", 2, -4000, 8500),
        Channel("light", 0, 0, 65535),
        Channel("co2", 0, 0, 40000),
        Channel("pir", 0, 0, 1),
    ),
)


def build(home: Home, records: int) -> tuple[list[bytes], list[bytes]]:
    keys = home.keys()
    packer = CanonicalPacker(SPEC)
    lines, canon = [], []
    for seq in range(records // SPEC.k):
        for trk in range(SPEC.k):
            values = (2000 + seq % 500, seq % 900, 400 + seq % 1000, seq % 2)
            ts = 1_700_000_000 + 30 * seq
            lines.append(
                encode_line(SPEC, keys, boot=0, seq=seq, trk=trk, ts=ts, values=values) + b"\n"
            )
            canon.append(packer.pack(0, 0, 0, seq, trk, ts, values))
    return lines, canon


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        home = Home(tmp / "home")
        home.keygen()
        home.save_device(SPEC)
        keys, specs = home.keys(), home.devices()
        lines, canon = build(home, args.records)
        n = len(lines)
        feed = tmp / "feed.jsonl"
        feed.write_bytes(b"".join(lines))
        with SqliteStore(tmp / "p.db") as store:
            ingest_file(store, feed)
        parsed = [("", check_shape(__import__("json").loads(ln))) for ln in lines]

        key = keys.real
        raw = timed(lambda: [hmac.digest(key, c, "sha256") for c in canon])

        def from_store():
            with SqliteStore(tmp / "p.db", create=False) as s:
                readings, report = decode(keys, specs, s.items())
            assert report.clean and len(readings) == n // SPEC.k

        results = [
            ("raw HMAC-SHA256 (reference)", raw),
            ("decode, records already parsed", timed(lambda: decode(keys, specs, parsed))),
            ("decode from feed file (JSON)", timed(lambda: decode(keys, specs, read_feed(feed)))),
            ("decode from SQLite store", timed(from_store)),
        ]
    print(f"owner decode, {n} records (k=4, 4 channels), one core, pid {os.getpid()}")
    print("| what | records/s | time | ratio to raw HMAC |")
    print("| --- | ---: | ---: | ---: |")
    for what, secs in results:
        print(f"| {what} | {n / secs:,.0f} | {secs:.2f} s | {raw / secs:.2f} |")


if __name__ == "__main__":
    main()
