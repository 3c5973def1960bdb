"""`veil profile fit` checks its own work: profiles fitted on the earlier history are rehearsed
by the real firmware on the part held back and attacked, the scores before and after are
shown, and a profile that misses the targets reaches a board only when the owner says so."""

import json

import numpy as np
import pytest

from test_sim import veil
from veil.privacy.audit.tracks import DeviceTracks
from veil.protocol import Channel, DeviceSpec
from veil.sim.rehearse import calibrate

from conftest import ROOM

LABELS = f"{ROOM}:Room_Occupancy_Count"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A home whose CO2 node replayed the room's five days, then `veil profile fit` on it."""
    tmp = tmp_path_factory.mktemp("fit")
    veil("keygen", "--home", "h", cwd=tmp)
    veil("sim", ROOM, "--home", "h", "--device", "co2", "--channel", "S5_CO2", "--out", "co2.jsonl",
         cwd=tmp)  # fmt: skip
    before = (tmp / "h" / "profiles" / "co2.json").read_text()
    fit = veil("profile", "fit", "co2.jsonl", "--home", "h", "--labels", LABELS, cwd=tmp,
               check=False)  # fmt: skip
    return tmp, before, fit


def test_the_fit_reports_before_and_after_and_saves_its_check(fitted):
    tmp, before, fit = fitted
    assert fit.returncode in (0, 4), fit.stdout + fit.stderr
    out = fit.stdout
    assert "candidate 1/" in out and "checking on the last" in out
    line = next(x for x in out.splitlines() if x.startswith("co2: "))
    assert "before: discriminative score" in line and "after: discriminative score" in line
    assert "the chosen profiles, attacked on the held-back history" in out
    profile = json.loads((tmp / "h" / "profiles" / "co2.json").read_text())
    assert profile != json.loads(before)
    check = profile["check"]
    assert 0 <= check["discriminative"] <= 0.5 and check["days"] >= 1
    assert profile["channels"]["S5_CO2"]["fit"]["floor_hours"] in (24, 72, 168)
    # the exit code and the saved verdict agree
    assert (fit.returncode == 0) == check["met"]
    if not check["met"]:
        assert "--weak-decoys" in fit.stderr


def test_a_profile_that_missed_the_targets_needs_the_owners_word(fitted):
    tmp, _before, _fit = fitted
    path = tmp / "h" / "profiles" / "co2.json"
    profile = json.loads(path.read_text())
    profile["check"]["met"] = False  # as a profile that missed them
    path.write_text(json.dumps(profile))
    args = ("sim", ROOM, "--home", "h", "--device", "co2", "--channel", "S5_CO2", "--rows", 50)
    refused = veil(*args, "--out", "again.jsonl", cwd=tmp, check=False)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "--weak-decoys" in refused.stderr
    assert not (tmp / "again.jsonl").exists()
    pushed = veil(*args, "--out", "again.jsonl", "--weak-decoys", cwd=tmp)
    assert "missed the privacy targets" in pushed.stderr
    assert (tmp / "again.jsonl").stat().st_size > 0


def test_a_history_too_short_to_check_keeps_the_profile(tmp_path):
    veil("keygen", "--home", "h", cwd=tmp_path)
    veil("sim", ROOM, "--home", "h", "--device", "co2", "--channel", "S5_CO2", "--rows", 400,
         "--out", "co2.jsonl", cwd=tmp_path)  # fmt: skip
    path = tmp_path / "h" / "profiles" / "co2.json"
    before = path.read_bytes()
    p = veil("profile", "fit", "co2.jsonl", "--home", "h", cwd=tmp_path, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("veil: error: history too short to check a profile")
    assert p.stderr.count("\n") == 1 and "--no-check" in p.stderr
    assert path.read_bytes() == before
    unchecked = veil("profile", "fit", "co2.jsonl", "--home", "h", "--no-check", cwd=tmp_path)
    assert "unchecked" in unchecked.stdout
    assert json.loads(path.read_text())["check"] is None


def test_labels_must_cover_the_history_and_count_people(tmp_path):
    veil("keygen", "--home", "h", cwd=tmp_path)
    veil("sim", ROOM, "--home", "h", "--device", "co2", "--channel", "S5_CO2", "--rows", 400,
         "--out", "co2.jsonl", cwd=tmp_path)  # fmt: skip
    short = tmp_path / "short.csv"
    short.write_text("".join(ROOM.read_text().splitlines(keepends=True)[:100]))
    for labels, why in (
        (f"{short}:Room_Occupancy_Count", "give labels for the whole history"),
        (f"{ROOM}:S1_Temp", "is not a count of people"),
    ):
        p = veil("profile", "fit", "co2.jsonl", "--home", "h", "--no-check", "--labels", labels,
                 cwd=tmp_path, check=False)  # fmt: skip
        assert p.returncode == 1 and why in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_a_model_that_would_not_fit_the_board_is_not_rehearsed(tmp_path):
    """A device of twelve channels at k = 4 needs more heap than the smallest board has:
    every candidate is skipped for it, saying why, and the fit ends in one clear error."""
    from veil import dataset
    from veil.owner.decode import Reading
    from veil.owner.home import Home
    from veil.privacy.profile import ProfileError
    from veil.protocol import DeviceSpec
    from veil.sim.rehearse import CANDIDATES, choose_profiles

    series = dataset.load(ROOM)
    spec = DeviceSpec("wide", 4, 0, tuple(series.channels))
    home = Home(tmp_path / "h")
    home.keygen()
    home.save_device(spec)
    readings = [
        Reading("wide", 0, n, ts, tuple(row), 0)
        for n, (ts, row) in enumerate(zip(series.times, series.rows, strict=True))
    ]
    said = []
    with pytest.raises(ProfileError, match="no decoy model of wide fits the smallest board"):
        choose_profiles(home, {"wide": spec}, readings, progress=said.append)
    skipped = [x for x in said if x.startswith("  wide: skipped, device wide needs about")]
    assert len(skipped) == len(CANDIDATES), said  # each candidate
    assert not (tmp_path / "h" / "profiles" / "wide.json").exists()


def test_walks_whose_fakes_moved_too_much_on_their_history_are_scaled():
    """The fit's own check on its history (sim.rehearse.calibrate): a slow walk whose fakes
    moved twice as much as the real readings gets half the pace, one that moved as much
    keeps its own, and a switch is never scaled (a scaled step would leave a light half on)."""
    rng = np.random.default_rng(0)
    n, k = 2000, 4
    spec = DeviceSpec("d", k, 0, (Channel("T1", 1, 0, 400), Channel("RH1", 1, 0, 1000),
                                  Channel("light", 0, 0, 500)), version=2)  # fmt: skip
    real = np.repeat(np.arange(n // 500) % k, 500)  # re-dealt every 500 ticks
    values = np.zeros((k, n, 3))
    for t in range(k):
        fake = real != t
        values[t, :, 0] = np.cumsum(rng.choice([-1, 0, 1], n) * np.where(fake, 2, 1))
        values[t, :, 1] = np.cumsum(rng.choice([-1, 0, 1], n))
        values[t, :, 2] = np.cumsum(rng.choice([-1, 0, 1], n) * np.where(fake, 3, 1))
    models = {"T1": {"kind": "temperature"}, "RH1": {"kind": "humidity"},
              "light": {"kind": "light"}}  # fmt: skip
    profiles = {"d": {"channels": models}}
    calibrate(profiles, {"d": DeviceTracks(spec, np.arange(n) * 60, values, real, [0, 1, 2, 3])})
    assert 118 <= models["T1"]["scale"] <= 138  # half the pace, give or take the noise
    assert 236 <= models["RH1"]["scale"] <= 276
    assert "scale" not in models["light"]


def test_a_climate_walk_aims_at_the_day_its_fakes_made_on_the_history():
    """Fakes that sank 0.5 degC (five grid steps) below the real room every evening of the
    history they were fitted on: the board is told that this is the fakes' own day (`aim`),
    so it moves them by the difference to the real room's (`day`, the fitted curve)."""
    rng = np.random.default_rng(2)
    n, k = 3 * 24 * 60, 4  # three days at one minute
    spec = DeviceSpec("d", k, 0, (Channel("T1", 1, 0, 400),), version=2)
    times = np.arange(n) * 60
    evening = (times % 86400 >= 18 * 3600) & (times % 86400 < 23 * 3600)
    real = np.zeros(n, dtype=int)
    values = np.zeros((k, n, 1))
    room = 20 + np.cumsum(rng.choice([-0.1, 0, 0.1], n)) * 0.2
    for t in range(k):
        values[t, :, 0] = np.round(room - np.where(evening & (t != 0), 0.5, 0), 1)
    fitted = list(range(100, 124))
    tracks = {"d": DeviceTracks(spec, times, values, real, [0, 1, 2, 3])}
    model = {"kind": "temperature", "dec": 1, "grid": [1, [0]], "follow": 4, "aim": fitted}
    plain = {**model, "fit": {"own_day": False}}  # the option is the fit's check's to choose
    model["fit"] = {"own_day": True}
    calibrate({"d": {"channels": {"T1": model}}}, tracks)
    calibrate({"d": {"channels": {"T1": plain}}}, tracks)
    assert model["day"] == fitted
    gap = np.array(model["aim"]) - np.array(fitted)
    assert (gap[18:23] == -5).all() and (gap[:18] == 0).all() and (gap[23:] == 0).all(), gap
    assert plain["aim"] == fitted and "day" not in plain


def test_a_sensor_stuck_through_the_held_back_days_is_named():
    """A cupboard contact left open for the whole check (kasteren's microwave, 87 % of the
    held-back week against 0.1 % before) is what no model of the earlier history can mimic:
    the fit names it; a temperature that merely wanders as before is not named."""
    from veil.dataset import Series
    from veil.sim.rehearse import changed

    rng = np.random.default_rng(1)
    chans = [Channel("temp", 1, 0, 400), Channel("microwave", 0, 0, 1)]

    def series(n, open_share):
        temp = 200 + np.cumsum(rng.integers(-1, 2, n)) // 8
        door = rng.random(n) < open_share
        rows = [[int(t), int(d)] for t, d in zip(temp, door, strict=True)]
        return Series(list(range(n)), chans, rows)

    early = series(5000, 0.001)
    said = changed(early, series(3000, 0.87))
    assert said is not None and said.startswith("microwave averages 0.8"), said
    assert changed(early, series(3000, 0.001)) is None


def test_candidates_that_every_forest_tells_apart_are_ranked_by_the_mean():
    """The worst attacker decides; where it saturates for every candidate, the attackers'
    mean still ranks them rather than the first candidate winning by default."""
    from veil.sim.rehearse import Score

    stuck_a = Score(0.5, 1.0, 4, False, mean=0.42)
    stuck_b = Score(0.5, 1.0, 4, False, mean=0.31)
    better = Score(0.3, 0.5, 4, False, mean=0.35)
    assert min([stuck_a, stuck_b], key=Score.objective) is stuck_b
    assert min([stuck_a, stuck_b, better], key=Score.objective) is better
