"""Hostile inputs, generated with hypothesis, for the parts that read what a device (or anyone
between it and the platform) sends: the feed parser, the platform's ingest and its store, and
the owner's decoder. Used by tests/test_fuzz.py (a bounded run) and bench/bench_fuzz.py (a long
one); each runner returns how many inputs it tried. A crash (any exception but the one the
part is meant to raise) fails the run with hypothesis's smallest example of it.

What is generated: arbitrary bytes; JSON nested thousands deep; any JSON value; and genuine
records (the protocol's reference encoder, tests/vectors' key) mutated: a field replaced by
any JSON value, keys dropped or added, values re-spelled, out of range or of the wrong type,
channels renamed, bytes flipped, cut or inserted in the text. The properties: the parser gives
a Record or MalformedRecord; a feed file ingests or is refused with one VeilError, and the
store then holds exactly one row per distinct (slot, tag) it was given, every earlier row
still there; the decoder never fails on a feed that holds genuine records, and recovers every
genuine reading exactly."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.errors import VeilError
from veil.feed import Rejected, parse_message
from veil.owner.decode import decode
from veil.platform.ingest import ingest_file
from veil.platform.ingest_mqtt import classify
from veil.platform.mqtt_link import BrokerUrl
from veil.platform.store.sqlite import SqliteStore
from veil.protocol import Channel, DeviceSpec, HomeKeys, MalformedRecord, Record, encode_line

KEY = bytes(range(32))
SPEC = DeviceSpec(
    "room1",
    4,
    0,
    (Channel("temp", 2, -4000, 8500), Channel("light", 0, 0, 65535), Channel("pir", 0, 0, 1)),
)
TICKS = 12


def genuine_lines() -> list[bytes]:
    """A small genuine feed: TICKS ticks of SPEC, k records each."""
    keys, rng, lines = HomeKeys(KEY), random.Random(7), []
    for seq in range(TICKS):
        values = [rng.randint(c.lo, c.hi) for c in SPEC.channels]
        for trk in range(SPEC.k):
            ts = 1_600_000_000 + 30 * seq
            lines.append(encode_line(SPEC, keys, boot=0, seq=seq, trk=trk, ts=ts, values=values))
    return lines


GENUINE = genuine_lines()
RECORDS = [json.loads(x) for x in GENUINE]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
numbers = (
    st.integers(min_value=-(2**40), max_value=2**40)
    | st.integers(min_value=2**31 // 100, max_value=2**31 - 1)  # in range until scaled
    | st.floats()
    | st.floats(min_value=-(2**31) + 1, max_value=2**31 - 1)
    | st.sampled_from([2**31, -(2**31), 2**31 - 1, 1e308, -0.0, 0.1, 0.005])
)


@st.composite
def mutated_record(draw) -> bytes:
    """A genuine record, then one to three hostile changes to it."""
    rec = json.loads(json.dumps(draw(st.sampled_from(RECORDS))))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["field", "drop", "add", "value", "channel", "text"]))
        if how == "field":
            rec[draw(st.sampled_from(sorted(rec)))] = draw(json_values)
        elif how == "drop" and rec:
            del rec[draw(st.sampled_from(sorted(rec)))]
        elif how == "add":
            rec[draw(st.text(max_size=8))] = draw(json_values)
        elif how == "value" and isinstance(rec.get("val"), dict) and rec["val"]:
            rec["val"][draw(st.sampled_from(sorted(rec["val"])))] = draw(numbers)
        elif how == "channel" and isinstance(rec.get("val"), dict) and rec["val"]:
            name = draw(st.sampled_from(sorted(rec["val"])))
            rec["val"][draw(st.text(min_size=1, max_size=40))] = rec["val"].pop(name)
    text = json.dumps(rec, allow_nan=True).encode()
    if how == "text" or draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 8))
        text = text[:at] + draw(st.binary(max_size=8)) + text[at + cut :]
    return text


@st.composite
def respelled(draw) -> bytes:
    """A genuine record with its numbers written another way (the same record for the owner)."""
    rec = draw(st.sampled_from(RECORDS))
    val = ", ".join(
        f'"{k}": {draw(st.sampled_from([repr(float(v)), f"{v:.6f}", f"{float(v):e}", str(v)]))}'
        for k, v in rec["val"].items()
    )
    fields = [f'"{k}": {json.dumps(v)}' for k, v in rec.items() if k != "val"]
    fields.append(f'"val": {{{val}}}')
    return ("{" + ", ".join(draw(st.permutations(fields))) + "}").encode()


nested = st.integers(1, 2100).flatmap(
    lambda n: st.sampled_from([b"[" * n + b"]" * n, b'{"v":' + b"[" * n + b"]" * n + b"}"])
)
hostile = (
    st.binary(max_size=300)
    | st.binary(min_size=4000, max_size=4200)
    | nested
    | json_values.map(lambda v: json.dumps(v, allow_nan=True).encode())
    | mutated_record()
    | respelled()
)
lines = st.lists(hostile | st.sampled_from(GENUINE), max_size=30)


def _settings(n: int):
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def fuzz_parser(n: int) -> int:
    """parse_message() and the MQTT service's classify(): a Record or a reason, nothing else."""
    tried = 0
    url = BrokerUrl.parse("mqtt://127.0.0.1/veil")

    @_settings(n)
    @given(hostile, st.text(max_size=40) | st.just("veil/room1"))
    def check(raw, topic):
        nonlocal tried
        tried += 1
        try:
            rec = parse_message(raw)
        except MalformedRecord:
            pass
        else:
            assert isinstance(rec, Record)
        assert isinstance(classify(url, topic, raw), Record | Rejected)

    check()
    return tried


def fuzz_ingest(n: int) -> tuple[int, int]:
    """Feed files of hostile and genuine lines into one store, file after file: each is
    ingested or refused with one VeilError, and the store holds one row per distinct slot and
    tag it was given, none lost. Returns (files tried, lines in them)."""
    tried = lines_tried = 0
    with tempfile.TemporaryDirectory(prefix="veil-fuzz-") as tmp:
        db = Path(tmp) / "p.db"
        expected: set = set()

        @_settings(n)
        @given(lines, st.booleans())
        def check(feed_lines, last_newline):
            nonlocal tried, lines_tried
            tried += 1
            lines_tried += len(feed_lines)
            path = Path(tmp) / "feed.jsonl"
            body = b"\n".join(feed_lines) + (b"\n" if last_newline else b"")
            path.write_bytes(body)
            given_records = set()
            for line in body.split(b"\n"):
                try:
                    rec = parse_message(line) if line.strip() else None
                except MalformedRecord:
                    continue
                if rec is not None:
                    given_records.add((rec.slot, rec.tag))
            with SqliteStore(db) as store:
                try:
                    ingest_file(store, path)
                except VeilError:
                    assert not given_records  # refused: only a file with no record at all
                else:
                    expected.update(given_records)
                assert store.counts()[0] == len(expected)
                assert {(r.slot, r.tag) for r in store.records()} == expected

        check()
    return tried, lines_tried


def fuzz_decoder(n: int) -> tuple[int, int]:
    """The owner's decode of the genuine feed with hostile records mixed in anywhere: it never
    fails, and every genuine reading comes out exactly. Returns (feeds, records tried)."""
    keys, specs = HomeKeys(KEY), {SPEC.device: SPEC}
    want, _ = decode(keys, specs, [("g", parse_message(x)) for x in GENUINE])
    tried = records = 0

    @_settings(n)
    @given(st.lists(hostile, max_size=40), st.randoms(use_true_random=False))
    def check(extra, rng):
        nonlocal tried, records
        items = [("g", parse_message(x)) for x in GENUINE]
        for raw in extra:
            try:
                items.append(("h", parse_message(raw)))
            except MalformedRecord as e:
                items.append(("h", Rejected("h", str(e), raw)))
        rng.shuffle(items)
        tried += 1
        records += len(items)
        got, report = decode(keys, specs, items)
        assert [(r.seq, r.ts, r.values) for r in got] == [(r.seq, r.ts, r.values) for r in want]
        assert report.total("verified_real") == TICKS

    check()
    return tried, records
