"""The audit as the owner reads it: plain sentences first, a warning when a finding rests on too
few days, what to do next, then the table; JSON with every number; a picture that says which
way is better. And the whole audit on a feed, reporting each attack as it runs."""

import json
from dataclasses import replace

import numpy as np

import synthhome as sh
from veil.feed import read_feed
from veil.owner.home import Home
from veil.privacy.audit import Finding, run_audit
from veil.privacy.audit.report import AuditReport, draw
from veil.protocol import encode_line


def _report(days=2, occupancy=(0.84, 0.95, 0.95)):
    clock, raw, disguised = occupancy
    by_day = {f"2024-01-0{d + 1}": True for d in range(days)}
    found = [
        Finding(
            "disc_forest_3600",
            "discriminative score, random forest, 1 h windows",
            0.21,
            0.05,
            trials=300,
            strength=0.3,
        ),
        Finding(
            "pick_day",
            "real track named per day",
            1.0,
            0.3,
            trials=days,
            parts={"co2": {"named": days, "days": days, "by_day": by_day}},
        ),
        Finding("pick_feed", "real track named over the whole feed", 1.0, 0.3, trials=1),
        Finding("occupancy_clock", "occupancy, clock-only attacker (accuracy)", clock, trials=80),
        Finding("occupancy_raw", "occupancy, attacker on the undisguised feed", raw, trials=80),
        Finding(
            "occupancy",
            "occupancy, same attacker on the disguised feed",
            disguised,
            clock + 0.03,
            trials=80,
            strength=raw,
            parts={"clock": clock, "undisguised": raw},
        ),
        Finding(
            "covariate",
            "public covariate names the real track",
            float("nan"),
            detail="no temperature or humidity channel",
        ),
    ]
    return AuditReport(4, ["co2"], 0, found, test_days=days, reference=True)


def test_the_owner_reads_plain_sentences_first():
    text = _report().text()
    first = text.split("\n\n")[0]
    assert "An outsider picked your real co2 track on 2 of 2 days (chance 1 in 4)." in first
    assert "Your occupancy is as easy to guess disguised as raw" in first
    assert "71% of the time (50% is guessing)" in first
    assert text.index("An outsider") < text.index("| attack | value |")


def test_a_finding_on_too_few_days_carries_a_warning_and_advice():
    report = _report(days=2)
    warned = " ".join(report.warnings())
    assert "only 2 test day(s)" in warned and "uncertain by about 31%" in warned
    advice = " ".join(report.advice())
    assert "more history" in advice
    assert "`veil profile fit`" in advice
    assert "larger k" in advice
    calm = _report(days=14, occupancy=(0.84, 0.95, 0.85))
    assert not any("test day" in w for w in calm.warnings())
    assert "Your occupancy is hidden" in " ".join(calm.sentences())
    assert not any("larger k" in a for a in calm.advice())


def test_json_keeps_every_number_and_is_strict():
    doc = json.loads(json.dumps(_report().to_json(), allow_nan=False))
    assert doc["k"] == 4 and doc["test_days"] == 2 and doc["all_met"] is False
    by_key = {f["key"]: f for f in doc["findings"]}
    assert by_key["pick_day"]["parts"]["co2"]["by_day"]["2024-01-01"] is True
    assert by_key["disc_forest_3600"]["strength"] == 0.3
    assert by_key["covariate"]["value"] is None and by_key["covariate"]["met"] is None
    assert doc["sentences"] and doc["warnings"] and doc["advice"]


def test_the_picture_draws_every_finding_with_its_target(tmp_path):
    png = tmp_path / "audit.png"
    draw(_report(), png)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_the_whole_audit_on_a_feed_reports_each_attack_as_it_runs(tmp_path):
    """Two devices of a synthetic home speaking protocol v2 (the real household re-dealt each
    household day, here at UTC+1), fakes constant, through the feed a platform would hold:
    every attack is named to `progress`, and the real track is named on every day though it
    moves from track to track."""
    home = Home(tmp_path / "home")
    home.keygen()
    keys = home.keys()
    devs, _lab, _w = sh.home(days=10)
    lines = []
    for name in ("co2", "pir"):
        dev = devs[name]
        spec = replace(dev.spec, version=2, tz=3600)
        home.save_device(spec)
        scale = 10 ** np.array([c.dec for c in spec.channels])
        readings = np.round(dev.values[0] * scale).astype(int)
        flat = tuple(int(v) for v in np.round(readings.mean(0)))
        for seq, ts in enumerate(dev.times.tolist()):
            real = keys.real_track(spec, ts=ts)
            for trk in range(spec.k):
                vals = tuple(int(v) for v in readings[seq]) if trk == real else flat
                lines.append(encode_line(spec, keys, boot=0, seq=seq, trk=trk, ts=ts, values=vals))
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\n".join(lines) + b"\n")
    heard = []

    def progress(phase, done=0, total=None):
        heard.append((phase, done, total))

    report = run_audit(read_feed(feed), keys, home.devices(), progress=progress)
    phases = list(dict.fromkeys(p for p, _d, _t in heard))
    assert phases[:2] == ["decode", "random forest, 1 h windows"]
    assert "sequence model, 4 h windows" in phases and phases[-1] == "cross-device linking"
    assert ("random forest, 1 h windows", 4, 4) in heard  # two devices, and the reference
    assert all(report.get("pick_day").parts["co2"]["by_day"].values())
    assert report.get("pick_day").value >= 0.8  # a day away leaves the motion track flat too
    for name in ("co2", "pir"):  # the track named is real only on the days it was real
        spec = home.devices()[name]
        test = [t for t in devs[name].times.tolist() if t >= report.cut]
        moved = len({keys.real_track(spec, ts=t) for t in test}) > 1  # (1 key in 256: never)
        assert (report.get("pick_feed").parts[name] < 1.0) == moved
    assert report.get("linking").trials == report.test_days
