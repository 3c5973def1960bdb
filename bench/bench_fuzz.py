"""The long fuzz run: the feed parser, the platform's ingest and store, and the owner's decoder
fed generated hostile inputs (tests/fuzz.py: what is generated, which properties are checked),
many more than the test suite's bounded run. A crash or a lost or doubled stored record stops
the run with hypothesis's smallest example. The reference, in the same run, is the parser on
as many genuine records.

    python bench/bench_fuzz.py [--inputs 20000]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from veil.feed import parse_message

# The strategies live with the tests (tests/fuzz.py); the bounded run is tests/test_fuzz.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fuzz import GENUINE, fuzz_decoder, fuzz_ingest, fuzz_parser


def timed(run, *args):
    t = time.perf_counter()
    got = run(*args)
    return got, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--inputs", type=int, default=20_000, help="parser inputs; a tenth each for the rest"
    )
    args = ap.parse_args()
    n = args.inputs
    lines = (GENUINE * (n // len(GENUINE) + 1))[:n]
    _, ref = timed(lambda: [parse_message(x) for x in lines])
    parsed, t_parse = timed(fuzz_parser, n)
    (files, file_lines), t_ingest = timed(fuzz_ingest, n // 10)
    (feeds, records), t_decode = timed(fuzz_decoder, n // 10)
    print(f"{platform.processor() or platform.machine()}, Python {sys.version.split()[0]}\n")
    print("| part | inputs tried | in them | time | per input | ratio to reference |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    rows = [
        ("parser, genuine records (reference)", n, "", ref),
        ("parser + MQTT classify, hostile", parsed, "", t_parse),
        ("feed files -> ingest -> SQLite", files, f"{file_lines:,} lines", t_ingest),
        ("decoder, genuine feed + hostile", feeds, f"{records:,} records", t_decode),
    ]
    for what, tried, within, took in rows:
        per = took / tried
        ratio = per / (ref / n)
        print(
            f"| {what} | {tried:,} | {within} | {took:.1f} s | {per * 1e6:,.0f} µs | {ratio:,.0f} |"
        )
    print("\nNone crashed; no stored record was lost or stored twice (checked after every input).")


if __name__ == "__main__":
    main()
