"""The batch decoder against the record-at-a-time reference (tests/reference_decode.py) on
generated hostile feeds, from files and from both stores; its parts against the protocol: the
canonical bytes, the C verifier and its Python fallback."""

import os
import shutil
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_decode import decode as reference_decode
from reference_decode import same_as_reference
from veil.feed import MAX_LINE, read_feed
from veil.owner import native
from veil.owner.columns import BATCH, Layouts, store_batches
from veil.owner.decode import _Canon, decode, decode_columns, write_columns_csv, write_csv
from veil.owner.home import Home
from veil.owner.sources import read_batches
from veil.platform.ingest import ingest_file
from veil.platform.store import open_store
from veil.platform.store.sqlite import SqliteStore
from veil.protocol import (
    CanonicalPacker,
    Channel,
    DeviceSpec,
    HomeKeys,
    check_tag,
    encode_line,
    hidden_field,
    make_tag,
)

from services import Postgres

# v2, in UTC+2: 04:00 local falls inside the feed, so the real track is re-dealt in it
SPEC = DeviceSpec(
    "hall", 3, 7, (Channel("t", 1, -400, 850), Channel("n", 0, 0, 9999)), version=2, tz=7200
)
OTHER = DeviceSpec("yard", 2, 7, (Channel("lux", 2, 0, 100000),), version=1)
T0 = 1_700_000_000 - 1_700_000_000 % 86400 + 2 * 3600 - 600  # 01:50 UTC, 03:50 local


def _lines(keys: HomeKeys) -> list[bytes]:
    """Two devices' genuine feeds interleaved: `hall` over two boots across a re-deal, with
    stand-ins and drop reports on some real records, then a third boot whose clock went back
    to boot 0's first times (repeated_time); `yard` one boot, then, its state lost, boot 0
    from seq 0 again with other readings (reused_slot)."""
    out = []
    yard = 0
    for boot, first, ticks in ((0, 0, 30), (1, 64, 20), (2, 148, 4)):
        for seq in range(first, first + ticks):
            ts = T0 + 60 * (seq if boot < 2 else seq - first)
            real = keys.real_track(SPEC, ts=ts)
            for trk in range(SPEC.k):
                mask, drops = (1, 2) if trk == real and seq % 7 == 3 else (0, 0)
                values = (200 + seq % 40, seq * 13 % 9999)
                fields = dict(boot=boot, seq=seq, trk=trk, ts=ts, mask=mask, drops=drops)
                out.append(encode_line(SPEC, keys, values=values, **fields))
            if seq % 3 == 0:  # a slower device, with its own seq
                for trk in range(OTHER.k):
                    line = encode_line(
                        OTHER, keys, boot=0, seq=yard, trk=trk, ts=ts, values=(seq * 101,)
                    )
                    out.append(line)
                yard += 1
    for seq in range(3):
        for trk in range(OTHER.k):
            line = encode_line(
                OTHER, keys, boot=0, seq=seq, trk=trk, ts=T0 + 9000 + seq, values=(7,)
            )
            out.append(line)
    return [ln + b"\n" for ln in out]


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("batch") / "home")
    home.keygen()
    home.save_device(SPEC)
    home.save_device(OTHER)
    return home.keys(), home.devices(), _lines(home.keys())


def _flip(line: bytes, at: int) -> bytes:
    if len(line) < 2:
        return line
    at %= len(line) - 1
    return line[:at] + bytes([line[at] ^ 1]) + line[at + 1 :]


JUNK = [
    b"not json\n",
    b'{"v":2,"dev":\n',
    b"\n",
    b"   \t\n",
    b"{}\n",
    b'{"v":2}\n',
    b"\xef\xbb\xbf" + b"x\n",
    b"[1,2]\n",
    b"x" * (MAX_LINE + 3) + b"\n",
    b'{"v":true,"dev":"hall","ep":7,"boot":0,"seq":1,"trk":0,"ts":1,"val":{"t":1.0,"n":2},'
    b'"tag":"00000000000000000000000000000000"}\n',
    b'{"v":2,"dev":"nobody","ep":7,"boot":0,"seq":1,"trk":0,"ts":1,"val":{"t":1.0,"n":2},'
    b'"tag":"00000000000000000000000000000000"}\n',
    b'{"v":2,"dev":"hall","ep":7,"boot":0,"seq":1,"trk":9,"ts":1,"val":{"t":1.0,"n":2},'
    b'"tag":"00000000000000000000000000000000"}\n',
    b'{"v":2,"dev":"hall","ep":7,"boot":0,"seq":1,"trk":0,"ts":1,"val":{"t":1.0,"n":2,"x":1},'
    b'"tag":"00000000000000000000000000000000"}\n',
    b'{"v":2,"dev":"hall","ep":7,"boot":0,"seq":1,"trk":0,"ts":1,"val":{"t":1e300,"n":2},'
    b'"tag":"0000000000000000000000000000000G"}\n',
    b'{"v":2,"dev":"hall","ep":7,"boot":0,"seq":1,"trk":0,"ts":1,"val":{"t":214748364.7,'
    b'"n":2},"tag":"00000000000000000000000000000000"}\n',
    b"[" * 2000 + b"]" * 2000 + b"\n",  # RecursionError in Python's json
    b'{"v":' + b"[" * 1500 + b"]" * 1500 + b"}\n",
    b'{"v":2,"dev":"hall","ep":7,"boot":0,"seq":' + b"9" * 5000 + b',"trk":0}\n',  # too long
    b'{"v":2,"dev":"hall","ep":7,"boot":0,"seq":' + b"9" * 4400 + b"}\n",  # beyond int()
    b'{"v":2,"dev":"hall","ep":7,"boot":0,"seq":1,"trk":0,"ts":1,"val":{"t":1,"n":1'
    + b"0" * 400
    + b'},"tag":"00000000000000000000000000000000"}\n',
    # beyond 32 bits once scaled, and channels not the device's: malformed for `hall`
    b'{"v":2,"dev":"hall","ep":7,"boot":0,"seq":1,"trk":0,"ts":1,"val":{"t":214748365,'
    b'"n":2},"tag":"00000000000000000000000000000000"}\n',
    b'{"v":2,"dev":"hall","ep":7,"boot":1,"seq":70,"trk":2,"ts":1,"val":{"t":1,"x":2},'
    b'"tag":"00000000000000000000000000000000"}\n',
    b'{"v":1,"dev":"yard","ep":7,"boot":0,"seq":3,"trk":1,"ts":1,"val":{"lux":21474836.48},'
    b'"tag":"00000000000000000000000000000000"}\n',
]

edits = st.lists(
    st.one_of(
        st.tuples(st.just("drop"), st.integers(0, 10**6)),
        st.tuples(st.just("dup"), st.integers(0, 10**6), st.integers(0, 10**6)),
        st.tuples(st.just("swap"), st.integers(0, 10**6), st.integers(0, 10**6)),
        st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 10**6)),
        st.tuples(st.just("junk"), st.integers(0, 10**6), st.sampled_from(JUNK)),
        st.tuples(st.just("cut"), st.integers(1, 200)),
    ),
    max_size=12,
)


def _hostile(lines: list[bytes], ops) -> list[bytes]:
    out = list(lines)
    for op in ops:
        i = op[1] % len(out)
        if op[0] == "drop" and len(out) > 1:
            del out[i]
        elif op[0] == "dup":
            out.insert(op[2] % len(out), out[i])
        elif op[0] == "swap":
            j = op[2] % len(out)
            out[i], out[j] = out[j], out[i]
        elif op[0] == "flip":
            out[i] = _flip(out[i], op[2])
        elif op[0] == "junk":
            out.insert(i, op[2])
        elif op[0] == "cut":  # the feed stops inside its last line
            out[-1] = out[-1][: max(1, len(out[-1]) - op[1])]
    return out


@pytest.mark.parametrize("compiled", [True, False])
@settings(
    max_examples=int(os.environ.get("VEIL_HYPOTHESIS_EXAMPLES", 50)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=edits)
def test_hostile_feeds_decode_as_the_reference_decodes_them(feed, tmp_path, compiled, ops):
    """With the C reader and verifier, and with msgspec and the Python loop alone."""
    keys, specs, lines = feed
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"".join(_hostile(lines, ops)))
    with mock.patch.object(native, "_lib", native._lib if compiled else None):
        try:
            readings, report = same_as_reference(keys, specs, path)
        except Exception as e:  # a wrong key is the one error both may give, with one message
            assert type(e).__name__ == "WrongKeyError", e
            return
    from_items = decode(keys, specs, read_feed(path))  # the path of a CSE's or a broker's
    assert from_items[0] == readings and from_items[1].to_json() == report.to_json()
    batches = read_batches(specs, feeds=[path])[0]
    columns, _ = decode_columns(keys, specs, batches)
    write_csv(tmp_path / "want.csv", readings, specs)
    write_columns_csv(tmp_path / "got.csv", columns, specs)
    assert (tmp_path / "got.csv").read_bytes() == (tmp_path / "want.csv").read_bytes()


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=edits)
def test_a_store_decodes_as_the_reference_decodes_its_records(feed, tmp_path_factory, ops):
    keys, specs, lines = feed
    tmp = tmp_path_factory.mktemp("store")
    path = tmp / "hostile.jsonl"
    path.write_bytes(b"".join(_hostile(lines, ops)))
    with SqliteStore(tmp / "p.db") as store:
        if not ingest_file(store, path).stored:
            return
        _stored_as_reference(keys, specs, store)


def _stored_as_reference(keys, specs, store):
    try:
        want = reference_decode(keys, specs, store.items())
    except Exception as e:
        assert type(e).__name__ == "WrongKeyError", e
        return
    got = decode(keys, specs, store_batches(Layouts(specs), store.columns(7)))
    assert got[1].to_json() == want[1].to_json()
    assert list(got[1].examples) == list(want[1].examples)
    assert got[0] == want[0]


def test_postgresql_store_decodes_as_the_reference(feed, tmp_path):
    keys, specs, lines = feed
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"".join(_hostile(lines, [("dup", 5, 40), ("drop", 17), ("flip", 30, 60)])))
    with Postgres() as pg, open_store(pg.url) as store:
        ingest_file(store, path)
        _stored_as_reference(keys, specs, store)


def test_a_malformed_line_is_reported_alone_and_its_batch_is_decoded(feed, tmp_path):
    keys, specs, lines = feed
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"".join([*lines[:40], b'{"v":2,"dev":\n', *lines[40:]]))
    _readings, report = same_as_reference(keys, specs, path)
    assert report.total("malformed") == 1
    assert report.examples["malformed"][0].startswith("f.jsonl:41: bad JSON")
    verified = report.total("verified_real") + report.total("verified_fake")
    assert verified == len(lines) - report.total("reused_slot")
    assert report.clean is False and not report.total("altered") and not report.total("missing")


def test_repeated_times_and_values_no_record_can_have_are_found_as_the_reference_finds_them(
    feed, tmp_path
):
    """From a file, with and without the C part, and from a store: boot 2 repeats boot 0's
    first four times; three records are malformed for their device (JUNK's last three)."""
    keys, specs, lines = feed
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"".join([*lines[:9], *JUNK[-3:], *lines[9:]]))
    for compiled in (True, False):
        with mock.patch.object(native, "_lib", native._lib if compiled else None):
            _readings, report = same_as_reference(keys, specs, path)
        assert report.devices["hall"].counts["repeated_time"] == 4
        assert report.examples["repeated_time"][0].startswith("hall boot 2 seq 148 at ")
        assert report.examples["repeated_time"][0].endswith(", as boot 0 seq 0")
        assert [report.devices[d].counts["malformed"] for d in ("hall", "yard")] == [2, 1]
        assert report.devices["yard"].counts["reused_slot"] == 3 * OTHER.k
        assert report.examples["malformed"][0] == (
            "f.jsonl:10: seq 1 track 0: a value of device hall is beyond 32 bits"
        )
    with SqliteStore(tmp_path / "p.db") as store:
        ingest_file(store, path)
        _stored_as_reference(keys, specs, store)


def test_canonical_bytes_of_a_batch_are_the_packers():
    rng = np.random.default_rng(1)
    n = 50
    cols = {
        "v": rng.integers(1, 3, n),
        "ep": rng.integers(0, 2**32, n),
        "boot": rng.integers(0, 2**32, n),
        "seq": rng.integers(0, 2**48, n),
        "trk": rng.integers(0, SPEC.k, n),
        "ts": rng.integers(0, 2**32, n),
    }
    values = rng.integers(-(2**31), 2**31, (n, 2))
    got = _Canon(SPEC).build(cols, values)
    packer = CanonicalPacker(SPEC)
    for i in range(n):
        f = [int(cols[k][i]) for k in ("ep", "boot", "seq", "trk", "ts")]
        want = packer.pack(0, *f, tuple(int(x) for x in values[i]), int(cols["v"][i]))
        assert got[i].tobytes() == want


def _tagged(keys):
    """Canonical bytes and tags of records real and fake, with and without a hidden field,
    and with a tag bit flipped; the hidden field check_tag recovers for each (None: fails)."""
    packer = CanonicalPacker(SPEC)
    canon, tags, real, want = [], [], [], []
    for i in range(40):
        fields = (7, 1, 100 + i, i % 3, T0 + i, (i, i * 3), 2)
        is_real, hidden = i % 2 == 0, hidden_field(i % 5, i % 4) if i % 2 == 0 else 0
        key = keys.real if is_real else keys.fake
        tag = make_tag(key, packer, hidden, *fields)
        if i % 6 == 5:
            tag = bytes([tag[0] ^ 0x80]) + tag[1:]
        canon.append(packer.pack(0, *fields))
        tags.append(tag)
        real.append(is_real)
        want.append(check_tag(key, packer, tag, *fields))
    as_array = [np.frombuffer(b"".join(x), np.uint8).reshape(len(x), -1) for x in (canon, tags)]
    return (*as_array, np.array(real)), want


@pytest.mark.parametrize("compiled", [True, False])
def test_the_verifier_recovers_what_check_tag_recovers(feed, monkeypatch, compiled):
    keys = feed[0]
    if compiled and native._lib is None:
        pytest.skip(f"no C verifier: {native.IMPLEMENTATION}")
    if not compiled:
        monkeypatch.setattr(native, "_lib", None)
    (canon, tags, real), want = _tagged(keys)
    ok, hidden = native.check_tags(canon, tags, real, keys.real, keys.fake)
    assert [int(h) if o else None for o, h in zip(ok, hidden, strict=True)] == want
    assert None in want and any(want)


def test_the_c_verifier_is_built_where_a_compiler_is():
    if shutil.which("cc") is None:
        pytest.skip("no C compiler here")
    assert native.IMPLEMENTATION.startswith("C: native.c over OpenSSL"), native.IMPLEMENTATION


def test_the_python_fallback_gives_the_same_report(feed, tmp_path, monkeypatch):
    keys, specs, lines = feed
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"".join(_hostile(lines, [("flip", 3, 50), ("dup", 8, 90), ("drop", 60)])))
    fast = decode_columns(keys, specs, read_batches(specs, feeds=[path])[0])
    monkeypatch.setattr(native, "_lib", None)
    slow = decode_columns(keys, specs, read_batches(specs, feeds=[path])[0])
    assert fast[1].to_json() == slow[1].to_json()
    assert [r.readings() for r in fast[0]] == [r.readings() for r in slow[0]]


def test_the_benchmarks_reference_is_openssls_hmac(feed):
    import hmac

    if native._lib is None:
        pytest.skip(f"no C verifier: {native.IMPLEMENTATION}")
    keys = feed[0]
    msgs = np.frombuffer(os.urandom(77 * 10), np.uint8).reshape(10, 77)
    got = native.openssl_hmac_loop(keys.real, msgs)
    for m, t in zip(msgs, got, strict=True):
        assert t.tobytes() == hmac.digest(keys.real, m.tobytes(), "sha256")[:16]


def test_store_columns_are_its_items(feed, tmp_path):
    lines = feed[2]
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"".join(lines))
    with SqliteStore(tmp_path / "p.db") as store:
        ingest_file(store, path)
        items = list(store.items())
        cols = list(store.columns(BATCH))
    assert sum(len(c.dev) for c in cols) == len(items)
    c = cols[0]
    for i in (0, 7, len(items) - 1):
        origin, rec = items[i]
        assert origin == f"{c.prefix}{c.first + i}"
        assert (c.dev[i], int(c.seq[i]), int(c.trk[i]), c.tag[i]) == (
            rec.dev,
            rec.seq,
            rec.trk,
            rec.tag,
        )
