"""`veil audit` on the small slices shipped in the repo: its attackers catch crude fakes and
report every number beside its target, on feeds the real firmware published (each attack's
own tests, on a synthetic home, are in test_audit_attacks.py)."""

import json
import random

import numpy as np
import pytest

from test_sim import veil
from veil import dataset
from veil.feed import read_feed
from veil.privacy.audit import Series1D, run_audit
from veil.privacy.profile import fit_series
from veil.protocol import DeviceSpec, encode_line

from conftest import ROOM, run_firmware

HOME = ROOM.with_name("appliances_home.csv")


def _labels():
    occ = dataset.load(ROOM, channels=["Room_Occupancy_Count"])
    return Series1D(np.array(occ.times), np.array([r[0] for r in occ.rows]))


def _finding(report, start):
    return next(f for f in report.findings if f.name.startswith(start))


def test_the_audit_catches_crude_fakes(home, tmp_path):
    """Fakes drawn uniformly in range (no sensor grid, no repeats, no rhythm) must be found."""
    series = dataset.load(ROOM, channels=["S5_CO2"])
    spec = DeviceSpec("co2", 4, 0, tuple(series.channels))
    home.save_device(spec)
    keys = home.keys()
    real = keys.real_track(spec)
    c = spec.channels[0]
    rng = random.Random(3)
    lines = []
    for seq, (ts, row) in enumerate(zip(series.times, series.rows, strict=True)):
        for trk in range(4):
            v = row[0] if trk == real else rng.randint(c.lo, c.hi)
            lines.append(encode_line(spec, keys, boot=0, seq=seq, trk=trk, ts=ts, values=(v,)))
    feed = tmp_path / "crude.jsonl"
    feed.write_bytes(b"\n".join(lines) + b"\n")
    # people are in only on the slice's first two days: the attackers learn on the first 30 %
    report = run_audit(read_feed(feed), keys, home.devices(), labels=_labels(), train=0.3)
    assert _finding(report, "discriminative score, gradient").value >= 0.4
    assert _finding(report, "real track named per day").value == 1.0
    assert _finding(report, "real track named over the whole feed").value == 1.0
    assert _finding(report, "occupancy, same attacker").trials > 0
    assert not report.all_met


@pytest.fixture(scope="module")
def room_report(tmp_path_factory):
    """Three sensor groups of the room as devices of one home, decoys fitted on the first 30%
    of the readings only (people are in on the slice's first two days only), audited with
    the room's occupancy labels, the attackers learning on the same 30%."""
    from veil.owner.home import Home

    tmp = tmp_path_factory.mktemp("room")
    home = Home(tmp / "home")
    home.keygen()
    groups = {"co2": ["S5_CO2"], "pir": ["S6_PIR", "S7_PIR"], "node1": ["S1_Temp", "S1_Light"]}
    labels = _labels()
    occupancy = None
    items = []
    for dev, cols in groups.items():
        series = dataset.load(ROOM, channels=cols)
        n = int(0.3 * len(series.times))
        history = dataset.Series(series.times[:n], series.channels, series.rows[:n])
        states = np.where(labels.values[:n] > 0, 1, 0)
        profile = fit_series(history, states=states, occupancy=occupancy)
        occupancy = profile["occupancy"]
        run_firmware(home, tmp / dev, series, device=dev, profile=profile)
        items += list(read_feed(tmp / dev / "feed.jsonl"))
    return run_audit(items, home.keys(), home.devices(), labels=labels, train=0.3)


def test_veil_feed_is_audited_against_every_target(room_report):
    names = [f.name for f in room_report.findings]
    for start in (
        "discriminative score, gradient",
        "discriminative score, sequence",
        "real track named per day",
        "occupancy, clock",
        "occupancy, attacker on the undisg",
        "occupancy, same attacker",
        "cross-device linking",
    ):
        assert any(n.startswith(start) for n in names), start
    for f in room_report.findings:
        if f.value == f.value:  # NaN: too few windows of that length in the slice
            assert 0.0 <= f.value <= 1.0 and f.trials > 0
    assert "| attack | value | target |" in room_report.table()
    assert room_report.all_met == all(f.met is not False for f in room_report.findings)


def test_veil_decoys_beat_crude_fakes(room_report):
    assert _finding(room_report, "discriminative score, gradient").value < 0.4


def test_audit_cli_on_the_home_slice(tmp_path):
    """The CLI end to end on three rooms of the home slice with the public covariate."""
    veil("keygen", "--home", "h", cwd=tmp_path)
    for room in (1, 2, 5):
        veil(
            "sim",
            HOME,
            "--home",
            "h",
            "--device",
            f"room{room}",
            "--channel",
            f"T{room}",
            "--channel",
            f"RH_{room}",
            "--out",
            f"room{room}.jsonl",
            cwd=tmp_path,
        )
    feeds = ("room1.jsonl", "room2.jsonl", "room5.jsonl")
    fit = veil("profile", "fit", *feeds, "--home", "h", cwd=tmp_path, check=False)
    profiles = [
        json.loads((tmp_path / "h" / "profiles" / f"room{r}.json").read_text()) for r in (1, 2, 5)
    ]
    assert fit.returncode == (0 if all(p["check"]["met"] for p in profiles) else 4), fit.stderr
    assert "3024 real readings -> h/profiles/room5.json" in fit.stdout
    assert profiles[0]["occupancy"] == profiles[1]["occupancy"] == profiles[2]["occupancy"]
    p = veil(
        "audit",
        "room1.jsonl",
        "room2.jsonl",
        "room5.jsonl",
        "--home",
        "h",
        "--covariate",
        f"{HOME}:T_out",
        "--png",
        "a.png",
        "--report",
        "a.json",
        cwd=tmp_path,
        check=False,
    )
    doc = json.loads((tmp_path / "a.json").read_text())
    assert p.returncode == (0 if doc["all_met"] else 4), p.stderr
    names = [f["name"] for f in doc["findings"]]
    assert any(n.startswith("public covariate") for n in names)
    assert any(n.startswith("cross-device linking") for n in names)
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
