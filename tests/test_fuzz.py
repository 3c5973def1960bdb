"""A bounded fuzz run of the feed parser, the platform's ingest and store, and the owner's
decoder with generated hostile inputs (tests/fuzz.py says what and which properties); the long
run is bench/bench_fuzz.py. Every input tried is counted."""

from __future__ import annotations

from fuzz import fuzz_decoder, fuzz_ingest, fuzz_parser

RUNS = 200  # inputs per part in CI; the benchmark runs many more


def test_the_parser_gives_a_record_or_a_reason_for_anything(figures):
    assert fuzz_parser(RUNS) == RUNS
    figures("fuzz: generated messages to the parser and MQTT classify", sent=RUNS,
            notes="none crashed")  # fmt: skip


def test_ingest_keeps_one_row_per_record_and_loses_none(figures):
    files, lines = fuzz_ingest(RUNS // 2)
    assert files == RUNS // 2 and lines > files
    figures("fuzz: generated feed files to ingest, one store", sent=lines, lost=0, duplicated=0,
            notes=f"{files} files; none crashed; store checked after each")  # fmt: skip


def test_the_decoder_recovers_every_genuine_reading_among_hostile_ones(figures):
    feeds, records = fuzz_decoder(RUNS // 2)
    assert feeds == RUNS // 2 and records > feeds
    figures("fuzz: hostile records mixed into a genuine feed, decoded", sent=records,
            notes=f"{feeds} feeds; none crashed; every genuine reading recovered")  # fmt: skip
