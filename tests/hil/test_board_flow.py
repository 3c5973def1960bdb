"""Hardware-in-the-loop: deploy, provision, run, reboot and decode, all through the CLI.

The same tests drive a real board (`pytest tests/hil --port /dev/ttyUSB0 --board NAME`) and,
by default, the virtual board. The board replays recorded room data so that every reading
the owner decodes can be checked against its source.
"""

from __future__ import annotations

import base64
import csv
import json
from decimal import Decimal

import pytest

from veil.boards.link import BoardLink
from veil.owner.decode import PROBLEMS

from conftest import ROOM, veil_cli

pytestmark = pytest.mark.hil

CHANNELS = ["S1_Temp", "S1_Light", "S5_CO2", "S6_PIR"]
ROWS = 40
PERIOD_MS = 50


def source_rows():
    with ROOM.open() as f:
        rows = list(csv.DictReader(f))[:ROWS]
    return [[Decimal(r[c]) for c in CHANNELS] for r in rows]


@pytest.fixture(scope="module")
def flow(port, board_name, tmp_path_factory):
    """deploy -> provision -> boot 1 runs the replay to its end -> reboot, boot 2 likewise ->
    reboot, boot 3 is cut short after 10 ticks -> fetch -> decode. Keeps every output."""
    d = tmp_path_factory.mktemp("hil")
    BoardLink(port).exec("import os\ntry:\n    os.remove('feed.jsonl')\nexcept OSError:\n    pass")
    chans = [a for c in CHANNELS for a in ("--channel", c)]
    run = [
        veil_cli("keygen", "--home", "h", cwd=d),
        veil_cli("deploy", port, "--board", board_name, cwd=d),
        veil_cli(
            "provision",
            port,
            "--home",
            "h",
            "--device",
            "hil1",
            "--board",
            board_name,
            "--csv",
            ROOM,
            *chans,
            "--rows",
            ROWS,
            "--period-ms",
            PERIOD_MS,
            "--log-every",
            10,
            cwd=d,
        ),
    ]
    for until in ("stopped after", "stopped after", "ticks 10"):
        run.append(
            veil_cli(
                "monitor",
                port,
                "--home",
                "h",
                "--reset",
                "--until",
                until,
                "--duration",
                60,
                cwd=d,
            )
        )
    run.append(veil_cli("fetch", port, "--out", "feed.jsonl", cwd=d))
    run.append(
        veil_cli(
            "decode",
            "--home",
            "h",
            "feed.jsonl",
            "--out",
            "real.csv",
            "--report",
            "r.json",
            cwd=d,
            check=False,
        )
    )
    return d, run


def test_deploy_reports_the_compiled_bundle(flow):
    _, run = flow
    out = run[1].stdout
    assert "bundle" in out and ".mpy" in out and "verified" in out


def test_each_boot_logged_from_reset_to_its_end(flow):
    _, run = flow
    boots = [p.stdout for p in run[3:6]]
    for log in boots[:2]:
        assert "veil: boot" in log
        assert f"stopped after {ROWS} ticks" in log
    assert "veil: ticks 10" in boots[2]


def test_decode_recovers_every_reading_of_every_boot_exactly(flow):
    """Every reading of every boot comes back, and decode says (exit 3) that boots 2 and 3
    replayed times boot 1 already had: the only finding."""
    d, run = flow
    report = json.loads((d / "r.json").read_text())
    found = {f: n for f, n in report["devices"]["hil1"].items() if f in PROBLEMS and n}
    assert run[-1].returncode == 3, run[-1].stderr
    with (d / "real.csv").open() as f:
        got = list(csv.DictReader(f))
    by_boot = {}
    for r in got:
        by_boot.setdefault(int(r["boot"]), []).append([Decimal(r[c]) for c in CHANNELS])
    assert len(by_boot) == 3
    first, second, third = (by_boot[b] for b in sorted(by_boot))
    src = source_rows()
    assert first == src and second == src  # each boot replays the data from its start
    assert len(third) >= 10 and third == src[: len(third)]
    assert found == {"repeated_time": len(second) + len(third)}


def test_sequence_rises_across_reboots(flow):
    d, _ = flow
    records = [json.loads(x) for x in (d / "feed.jsonl").read_bytes().splitlines()]
    ticks = [(r["boot"], r["seq"]) for r in records[::4]]
    assert ticks == sorted(ticks)
    seqs = [s for _, s in ticks]
    assert len(set(seqs)) == len(seqs)
    assert len({b for b, _ in ticks}) == 3


def test_the_key_is_not_in_any_log_or_output(flow):
    d, run = flow
    key = (d / "h" / "home.key").read_bytes()
    forms = [key.hex(), key.hex().upper(), base64.b64encode(key).decode(), repr(key)[2:-1]]
    text = "".join(p.stdout + p.stderr for p in run)
    assert all(form not in text for form in forms)
    assert key not in (d / "feed.jsonl").read_bytes()
