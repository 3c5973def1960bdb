"""Platform ingest from feed files: shape checked without a key, hostile input quarantined
with a reason, duplicates stored once, and what was stored before never lost."""

import json

from click.testing import CliRunner

from veil.cli import cli
from veil.platform.store.sqlite import SqliteStore

from conftest import veil_cli


def _ingest(tmp_path, name, data):
    feed = tmp_path / name
    feed.write_bytes(data)
    return CliRunner().invoke(cli, ["ingest", "--store", str(tmp_path / "p.db"), str(feed)])


def test_genuine_feed_is_stored_once(genuine, tmp_path):
    _home, _spec, lines = genuine
    r = _ingest(tmp_path, "a.jsonl", b"".join(lines))
    assert r.exit_code == 0, r.output
    r = _ingest(tmp_path, "b.jsonl", b"".join(lines[:40]))
    assert r.exit_code == 0
    assert "0 stored, 40 already stored" in r.output
    with SqliteStore(tmp_path / "p.db") as s:
        assert s.counts() == (len(lines), 0)


def test_hostile_messages_are_quarantined_with_reasons(genuine, tmp_path, figures):
    _home, _spec, lines = genuine
    good = json.loads(lines[0])
    hostile = {
        "bad JSON": b"{not json\n",
        "wrong keys": json.dumps({**good, "extra": 1}).encode() + b"\n",
        "version": json.dumps({**good, "v": 3}).encode() + b"\n",
        "seq must be": json.dumps({**good, "seq": "12"}).encode() + b"\n",
        "not a number": json.dumps({**good, "val": {"a": "x"}}).encode() + b"\n",
        "tag must be": json.dumps({**good, "tag": "zz"}).encode() + b"\n",
        "bad device": json.dumps({**good, "dev": "../../etc"}).encode() + b"\n",
        "bad device id": json.dumps({**good, "dev": ["room1"]}).encode() + b"\n",
        "bad channel name": json.dumps({**good, "val": {"../x": 1}}).encode() + b"\n",
        "not a number in range": json.dumps({**good, "val": {"a": float("nan")}}).encode() + b"\n",
        "longer than": b"{" + b" " * 10_000 + b"}\n",
        "not UTF-8": b"\xff\xfe\n",
    }
    r = _ingest(tmp_path, "ok.jsonl", b"".join(lines[:8]))
    assert r.exit_code == 0
    r = _ingest(tmp_path, "mixed.jsonl", b"".join([*hostile.values(), *lines[8:16]]))
    assert r.exit_code == 1
    assert f"{len(hostile)} messages quarantined" in str(r.exception)
    with SqliteStore(tmp_path / "p.db") as s:
        assert s.counts() == (16, len(hostile))
        reasons = [reason for _origin, reason in s.quarantined()]
    for want, got in zip(hostile, reasons, strict=True):
        assert want in got
    figures(
        "hostile lines in a feed file: 12 kinds",
        sent=16 + len(hostile),
        stored=16,
        quarantined=len(hostile),
        lost=0,
        duplicated=0,
    )


def test_truncated_feed_keeps_store_and_valid_records(genuine, tmp_path):
    _home, _spec, lines = genuine
    _ingest(tmp_path, "first.jsonl", b"".join(lines[:20]))
    r = _ingest(tmp_path, "cut.jsonl", b"".join(lines[20:30]) + lines[30][:50])
    assert r.exit_code == 1
    assert "truncated last line" in str(r.exception)
    with SqliteStore(tmp_path / "p.db") as s:
        assert s.counts() == (30, 1)


def test_a_file_that_is_not_a_feed_is_refused_and_nothing_written(genuine, tmp_path, figures):
    _home, _spec, lines = genuine
    _ingest(tmp_path, "first.jsonl", b"".join(lines[:8]))
    r = _ingest(tmp_path, "image.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    assert r.exit_code == 1
    assert "image.png is not a veil feed (image.png:1: " in str(r.exception)
    with SqliteStore(tmp_path / "p.db") as s:
        assert s.counts() == (8, 0)
    figures(
        "a picture ingested as a feed", sent=1, stored=0, quarantined=0, lost=0,
        notes="refused in one line, nothing written",
    )  # fmt: skip


def test_an_empty_file_or_a_folder_says_so(genuine, tmp_path):
    home, _spec, _lines = genuine
    (tmp_path / "empty.jsonl").write_bytes(b"\n\n")
    (tmp_path / "feeds").mkdir()
    for args, says in [
        (["ingest", "--store", tmp_path / "p.db", tmp_path / "empty.jsonl"], "is empty"),
        (["ingest", "--store", tmp_path / "p.db", tmp_path / "feeds"], "is a folder"),
        (["decode", "--home", home.path, tmp_path / "empty.jsonl"], "is empty"),
        (["decode", "--home", home.path, tmp_path / "feeds"], "is a folder"),
    ]:
        p = veil_cli(*args, cwd=tmp_path, check=False)
        assert p.returncode == 1, p.stdout + p.stderr
        assert p.stderr.count("\n") == 1 and says in p.stderr, p.stderr


def test_a_store_that_is_not_sqlite_is_refused_and_untouched(genuine, tmp_path):
    _home, _spec, lines = genuine
    (tmp_path / "p.db").write_bytes(b"precious data, not a database" * 100)
    r = _ingest(tmp_path, "a.jsonl", b"".join(lines[:4]))
    assert r.exit_code == 1
    assert "not a usable veil store" in str(r.exception)
    assert (tmp_path / "p.db").read_bytes() == b"precious data, not a database" * 100
