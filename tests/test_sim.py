"""End to end on the virtual board, through the real CLI: the firmware runs under MicroPython
behind a pty and is driven by mpremote; the platform ingests; the owner decodes exactly."""

import base64
import csv
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from veil import dataset

from conftest import ROOM, ROOM_CHANNELS


def veil(*args, cwd, check=True):
    """The installed CLI, as a user runs it; returns the finished process."""
    p = subprocess.run(
        [sys.executable, "-m", "veil.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, COLUMNS="120"),
    )
    if check:
        assert p.returncode == 0, p.stdout + p.stderr
    return p


def _source_rows(n):
    with ROOM.open() as f:
        rows = list(csv.DictReader(f))[:n]
    return [[Decimal(r[c]) for c in ROOM_CHANNELS] for r in rows]


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """keygen -> sim (virtual board) -> ingest -> decode, all through the CLI; keeps every
    output and every file for the tests below."""
    d = tmp_path_factory.mktemp("flow")
    chans = [a for c in ROOM_CHANNELS for a in ("--channel", c)]
    outs = [
        veil("keygen", "--home", "h", cwd=d),
        veil(
            "sim",
            ROOM,
            "--home",
            "h",
            "--device",
            "room1",
            *chans,
            "--rows",
            400,
            "--out",
            "feed.jsonl",
            "--board-dir",
            "board",
            cwd=d,
        ),
        veil("ingest", "feed.jsonl", "--store", "p.db", cwd=d),
        veil(
            "decode",
            "--home",
            "h",
            "--store",
            "p.db",
            "--out",
            "real.csv",
            "--report",
            "report.json",
            cwd=d,
        ),
    ]
    return d, outs


def test_owner_recovers_every_reading_bit_exact(flow):
    d, outs = flow
    with (d / "real.csv").open() as f:
        got = [[Decimal(r[c]) for c in ROOM_CHANNELS] for r in csv.DictReader(f)]
    assert got == _source_rows(400)
    assert "400 real readings" in outs[3].stdout


def test_platform_holds_k_tracks_of_equal_length(flow):
    d, _ = flow
    lines = (d / "feed.jsonl").read_bytes().splitlines()
    assert len(lines) == 4 * 400
    assert len({len(ln) for ln in lines}) == 1


def test_sequence_keeps_rising_across_a_reboot(flow):
    """Running the same board again is a new boot: new sequence numbers, nothing reused."""
    d, _ = flow
    first = (d / "feed.jsonl").read_bytes().splitlines()
    chans = [a for c in ROOM_CHANNELS for a in ("--channel", c)]
    veil(
        "sim",
        ROOM,
        "--home",
        "h",
        "--device",
        "room1",
        *chans,
        "--rows",
        50,
        "--out",
        "again.jsonl",
        "--board-dir",
        "board",
        cwd=d,
    )
    both = [json.loads(x) for x in (d / "again.jsonl").read_bytes().splitlines()]
    assert len(both) == len(first) + 4 * 50  # the spool on the board kept the first run
    second = both[len(first) :]
    assert {r["boot"] for r in second} == {1}
    assert min(r["seq"] for r in second) > max(json.loads(x)["seq"] for x in first)
    p = veil("decode", "--home", "h", "again.jsonl", "--out", "again.csv", "--report",
             "again.json", cwd=d, check=False)  # fmt: skip
    assert "450 real readings" in p.stdout
    # The second run replayed rows 0-49 again: 50 readings at times the CSV already has.
    assert p.returncode == 3, p.stderr
    assert json.loads((d / "again.json").read_text())["devices"]["room1"]["repeated_time"] == 50
    assert (
        "repeated_time: room1 boot 1 seq 448 at 2017-12-22T10:49:41Z, as boot 0 seq 0" in p.stderr
    )


def test_key_never_appears_in_any_output_log_or_platform_file(flow):
    d, outs = flow
    key = (d / "h" / "home.key").read_bytes()
    forms = [key.hex(), key.hex().upper(), base64.b64encode(key).decode(), repr(key)]
    text = "".join(p.stdout + p.stderr for p in outs)
    for form in forms:
        assert form not in text
    for platform_file in ("feed.jsonl", "p.db"):
        blob = (d / platform_file).read_bytes()
        assert key not in blob
        assert all(form.encode() not in blob for form in forms)


def test_the_key_is_private_in_the_home_and_on_the_board(flow):
    """`veil sim --board-dir board`: the virtual board's flash is 0700 and the key.bin the
    board itself wrote there 0600, as the home and its key."""
    d, _ = flow
    for folder, key in ((d / "board", "key.bin"), (d / "h", "home.key")):
        assert (folder.stat().st_mode & 0o777, (folder / key).stat().st_mode & 0o777) == (
            0o700,
            0o600,
        )


def test_errors_are_one_line_with_a_nonzero_exit(flow, tmp_path):
    d, _ = flow
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00ts,t\n")
    cases = [
        (["decode", "--home", str(tmp_path / "none"), str(d / "feed.jsonl")], "veil keygen"),
        (["sim", str(tmp_path / "missing.csv"), "--home", str(d / "h")], "cannot read"),
        (["sim", str(tmp_path / "binary.csv"), "--home", str(d / "h")], "not UTF-8"),
        (["decode", "--home", str(d / "h"), "--store", str(tmp_path / "nope.db")], "no store"),
    ]
    for args, words in cases:
        p = veil(*args, cwd=tmp_path, check=False)
        assert p.returncode == 1, p.stderr
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("veil: error:") and words in lines[0]


def test_a_spreadsheets_csv_with_a_byte_order_mark_keeps_its_first_column_name(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfts,temp\n1700000000,20.1\n1700000060,20.25\n")
    series = dataset.load(path, time_col="ts")
    assert series.times == [1700000000, 1700000060]
    assert [c.name for c in series.channels] == ["temp"] and series.rows == [[2010], [2025]]


def test_sim_joins_the_home_with_its_k_and_epoch_and_refuses_others(tmp_path):
    """A second device of a home takes the home's k and epoch; asked for others, `veil sim`
    refuses in one line before anything runs, so the home stays one household story (and a
    later `veil provision` of the home does not fail on devices that disagree)."""
    sim = ["sim", ROOM, "--home", "h", "--channel", "S1_Temp", "--rows", 20]
    veil("keygen", "--home", "h", cwd=tmp_path)
    veil(*sim, "--device", "a", "--k", 6, "--out", "a.jsonl", cwd=tmp_path)
    p = veil(*sim, "--device", "b", "--k", 8, "--epoch", 3, "--out", "b.jsonl", cwd=tmp_path,
             check=False)  # fmt: skip
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("veil: error: the home h uses k=6")
    assert not (tmp_path / "b.jsonl").exists()
    p = veil(*sim, "--device", "b", "--out", "b.jsonl", cwd=tmp_path)
    assert "b: 20 ticks x 6 tracks" in p.stdout
    specs = json.loads((tmp_path / "h" / "devices.json").read_text())["devices"]
    assert {(s["device"], s["k"], s["epoch"]) for s in specs} == {("a", 6, 0), ("b", 6, 0)}


def test_demo_recovers_everything_and_draws_both_views(tmp_path):
    p = veil("demo", "--dir", "d", "--rows", 200, cwd=tmp_path)
    assert "owner recovered 200/200 real readings bit-exact" in p.stdout
    png = tmp_path / "d" / "views.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert Path(tmp_path / "d" / "home" / "home.key").stat().st_mode & 0o077 == 0
