"""`veil profile fit` checks its own work: decoy profiles fitted on the earlier part of the
home's decoded history are rehearsed on the part held back, by the real firmware under
MicroPython with the home's own keystream, and attacked with the privacy audit; the options
that hide the held-back history best are kept, refitted on the whole history.

This is what makes the decoys hold in a home nobody tuned them for: every home chooses its own
model against its own data, and the owner sees the scores before anything reaches a board.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..boards import budget
from ..boards.provision import board_config, stage
from ..dataset import Series
from ..errors import VeilError
from ..feed import read_feed
from ..owner.decode import Reading, decode
from ..owner.home import Home
from ..privacy.audit import AuditReport, Series1D, run_audit
from ..privacy.audit.tracks import load_tracks
from ..privacy.profile import SWITCHING, ProfileError, fit_home, grid_index
from ..privacy.walk import WalkOptions, local_hours
from ..protocol import DeviceSpec
from .replay import SimError, run_folder

HELD_BACK = 0.4  # share of the history (by time) the profiles are checked on
MIN_HELD_DAYS = 0.5
MIN_HELD_READINGS = 200
CALIBRATION_READINGS = 4000  # the last readings of the fitting history the walks are scaled on
SATURATED = 0.45  # every candidate told apart this well: the check cannot rank them
CHANGED = 3.0  # a channel's held-back mean this many of its earlier spreads off: it changed
CANDIDATES = (
    WalkOptions(),
    WalkOptions(ar=False),  # the run contexts alone carry the momentum (humidity: less excess)
    WalkOptions(bands=1),
    # routines by the three hours, not the quarter of a day: a flat's bedroom door opens
    # when its man gets up (as the only options, kasteren's attackers were up to 0.03 weaker
    # with one key and within 0.02 with another, its linking 0.40 -> 0.20 with both; the
    # office's attackers 0.02-0.14 stronger: docs/audit.md, "Tried after the 6916a08 run")
    WalkOptions(bands=8),
    WalkOptions(floor_hours=24),
    WalkOptions(floor_hours=168),
    # climate fakes that keep to the real room's day rather than sinking below it each
    # evening (appliances house: 0.3-0.9 of a room's spread); their forced moves cost the
    # alternation of steps, so a home's own check decides (docs/audit.md, 2026-12-07)
    WalkOptions(own_day=True),
    # the curve's move spent on the climate walks' toggles (a step back against it is not
    # taken) rather than pushed into every draw: with one key the appliances house's worst
    # attacker 0.29 -> 0.25, robod's 0.38 -> 0.41, the office's as it was (docs/audit.md)
    WalkOptions(toggles=True),
)
Progress = Callable[[str], None]


@dataclass
class Score:
    """How well one device's fakes hid its held-back history (lower is better)."""

    discriminative: float  # the worst attacker's |balanced accuracy - 0.5|
    picked: float  # share of held-out days the real track was named
    days: int
    met: bool
    mean: float = 0.0  # the attackers' mean |balanced accuracy - 0.5|

    def objective(self) -> tuple[float, float]:
        """The worst attacker first; the mean ranks candidates that every forest tells
        apart (a sensor stuck through the held-back days saturates the worst at 0.5)."""
        return (round(self.discriminative, 3), self.mean)

    def to_json(self) -> dict:
        return {
            "discriminative": round(self.discriminative, 4),
            "mean_discriminative": round(self.mean, 4),
            "picked": round(self.picked, 4),
            "days": self.days,
            "met": self.met,
        }


@dataclass
class DeviceOutcome:
    before: Score | None  # the profile the device had, rehearsed the same way
    after: Score
    options: WalkOptions
    readings: int


@dataclass
class FitOutcome:
    devices: dict[str, DeviceOutcome]
    report: AuditReport  # the whole audit of the chosen profiles on the held-back history
    held_days: float
    warnings: list[str] = field(default_factory=list)  # what the owner should look at


def by_device(readings: Sequence[Reading]) -> dict[str, list[Reading]]:
    out: dict[str, list[Reading]] = {}
    for r in readings:
        out.setdefault(r.dev, []).append(r)
    for rs in out.values():
        rs.sort(key=lambda r: r.ts)
    return out


def as_series(readings: Sequence[Reading], spec: DeviceSpec) -> Series:
    """A device's real readings as a replayable series (stand-ins as failed readings)."""
    rows = [[None if r.mask >> i & 1 else v for i, v in enumerate(r.values)] for r in readings]
    return Series([r.ts for r in readings], list(spec.channels), rows)


def check_labels(readings: Sequence[Reading], label_times) -> None:
    """Occupancy labels must cover the history they are to explain: a label within an hour of
    nine readings in ten."""
    if label_times is None or not len(readings):
        return
    lt = np.sort(np.asarray(label_times))
    ts = np.array([r.ts for r in readings])
    covered = 0.0
    if len(lt):
        pos = np.searchsorted(lt, ts)
        after, before = lt[np.minimum(pos, len(lt) - 1)], lt[np.maximum(pos - 1, 0)]
        covered = np.mean(np.minimum(np.abs(after - ts), np.abs(ts - before)) <= 3600)
    if covered < 0.9:
        span = f"{_day(lt.min())} to {_day(lt.max())}" if len(lt) else "nothing"
        raise ProfileError(
            f"the labels cover {span}, the history runs {_day(ts.min())} to {_day(ts.max())}: "
            "give labels for the whole history"
        )


def _day(ts) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(int(ts)))


def split(readings: Sequence[Reading], held: float = HELD_BACK) -> tuple[int, float]:
    """The time before which a profile is fitted and after which it is checked; and how many
    days are held back. Fails, saying what is missing, on a history too short to check."""
    times = np.array([r.ts for r in readings])
    if len(times) < 2:
        raise ProfileError("no decoded history to fit a profile from")
    cut = int(np.quantile(times, 1 - held))
    days = (times.max() - cut) / 86400
    mine = by_device(readings)
    short = [d for d, rs in mine.items() if sum(r.ts >= cut for r in rs) < MIN_HELD_READINGS]
    if days < MIN_HELD_DAYS or short:
        total = (times.max() - times.min()) / 86400
        need = MIN_HELD_DAYS / held
        raise ProfileError(
            f"history too short to check a profile: {total:.1f} days"
            + (
                f" ({', '.join(short)} with under {MIN_HELD_READINGS} readings held back)"
                if short
                else ""
            )
            + f"; need at least {need:.1f} days (or fit without the check: --no-check)"
        )
    return cut, days


def _fits_board(spec: DeviceSpec, profile: dict, say: Callable[[str], None]) -> bool:
    """Whether provisioning would take the device with this profile (boards.budget); a
    candidate that would not fit is not rehearsed for it, and the fit says so."""
    try:
        budget.check(board_config(spec), profile)
    except budget.BudgetError as e:
        say(f"  {spec.device}: skipped, {e}")
        return False
    return True


def rehearse(
    home: Home,
    specs: dict[str, DeviceSpec],
    profiles: dict[str, dict],
    held: dict[str, Series],
    work: Path,
) -> list:
    """Run every device's firmware over its held-back readings with `profiles`; the disguised
    feed items, as a platform would store them."""
    work.mkdir(parents=True, exist_ok=True)

    def one(dev: str) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=f"{dev}-", dir=work))
        config = board_config(specs[dev], pace="fast", log_every=10**9)
        stage(folder, home, config, profile=profiles[dev], series=held[dev])
        run_folder(folder)
        return folder / "feed.jsonl"

    with ThreadPoolExecutor(max_workers=2) as pool:  # each device is one micropython process
        feeds = list(pool.map(one, sorted(held)))
    return [item for feed in feeds for item in read_feed(feed)]


def score(items: list, home: Home, spec: DeviceSpec, labels: Series1D | None = None) -> Score:
    """The audit's discriminators and pick-real attack on one device's rehearsed feed."""
    report = run_audit(
        [i for i in items if getattr(i[1], "dev", None) == spec.device],
        home.keys(),
        {spec.device: spec},
        labels=labels,
        reference=False,  # choosing among candidates needs the scores, not the attackers' strength
    )
    disc = [f for f in report.findings if f.key.startswith("disc_") and f.met is not None]
    pick = report.get("pick_day")
    return Score(
        max(f.value for f in disc),
        pick.value,
        pick.trials,
        all(f.met is not False for f in [*disc, pick]),
        float(np.mean([f.value for f in disc])),
    )


def changed(early: Series, held: Series) -> str | None:
    """The channel whose held-back readings sit furthest from its earlier ones, in words, if
    it is off by more than CHANGED of its earlier spreads (a tenth of a step at least): a sensor
    stuck, moved or replaced, which no model of the earlier history can mimic."""
    worst, said = CHANGED, None
    for i, ch in enumerate(early.channels):
        a = np.array([r[i] for r in early.rows if r[i] is not None], dtype=float)
        b = np.array([r[i] for r in held.rows if r[i] is not None], dtype=float)
        if not len(a) or not len(b):
            continue
        z = abs(b.mean() - a.mean()) / max(a.std(), 0.1)
        if z > worst:
            unit = 10.0**ch.dec
            worst = z
            said = f"{ch.name} averages {b.mean() / unit:.4g} on the held-back days"
            said += f" against {a.mean() / unit:.4g} before"
    return said


def fit_by_audit(
    home: Home,
    items,
    *,
    label_times: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    candidates: Sequence[WalkOptions] = CANDIDATES,
    progress: Progress | None = None,
) -> FitOutcome:
    """Decode the home's history, then `choose_profiles` from its real readings."""
    specs = home.require_devices()
    readings, _report = decode(home.keys(), specs, items)
    return choose_profiles(
        home,
        specs,
        readings,
        label_times=label_times,
        labels=labels,
        candidates=candidates,
        progress=progress,
    )


def choose_profiles(
    home: Home,
    specs: dict[str, DeviceSpec],
    readings: Sequence[Reading],
    *,
    label_times: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    candidates: Sequence[WalkOptions] = CANDIDATES,
    progress: Progress | None = None,
) -> FitOutcome:
    """Choose every device's walk options by rehearsing each candidate on the held-back part
    of its real readings, and save the profiles refitted on the whole history with the
    options chosen (each profile records its check)."""
    say = progress or (lambda _m: None)
    check_labels(readings, label_times)
    mine = by_device(readings)
    specs = {d: s for d, s in specs.items() if d in mine}
    if not specs:
        raise ProfileError("no real readings of the home's devices to learn from")
    cut, days = split(readings)
    early = [r for r in readings if r.ts < cut]
    early_by = by_device(early)
    held = {d: as_series([r for r in rs if r.ts >= cut], specs[d]) for d, rs in mine.items()}
    lab = None
    if labels is not None:
        lab = Series1D(np.asarray(label_times), np.asarray(labels, dtype=float) > 0)
    say(
        f"history: {len(readings)} real readings; fitting on the first {1 - HELD_BACK:.0%}, "
        f"checking on the last {days:.1f} days"
    )

    scores: dict[str, list[tuple[Score, WalkOptions]]] = {d: [] for d in specs}
    before: dict[str, Score | None] = {}
    with tempfile.TemporaryDirectory(prefix="veil-rehearse-") as tmp:
        current = {d: _current(home, d) for d in specs}
        if all(p is not None for p in current.values()):
            t0 = time.monotonic()
            say("rehearsing the profiles the devices have now")
            got = rehearse(home, specs, current, held, Path(tmp) / "before")
            before = {d: score(got, home, s, lab) for d, s in specs.items()}
            say(f"  done in {time.monotonic() - t0:.0f} s")
        for n, opts in enumerate(candidates, 1):
            t0 = time.monotonic()
            say(f"candidate {n}/{len(candidates)}: {describe(opts)}")
            profiles = _fit(home, early, specs, label_times, labels, {d: opts for d in specs})
            fits = {d: s for d, s in specs.items() if _fits_board(s, profiles[d], say)}
            if not fits:
                continue
            try:
                got = rehearse(home, fits, profiles, held, Path(tmp) / f"c{n}")
            except SimError as e:  # e.g. out of the board's heap at boot: not a model to push
                say(f"  skipped: {e}")
                continue
            for d, s in fits.items():
                scores[d].append((score(got, home, s, lab), opts))
            worst = max(scores[d][-1][0].discriminative for d in fits)
            say(f"  worst discriminative score {worst:.3f} ({time.monotonic() - t0:.0f} s)")
        if none := sorted(d for d, v in scores.items() if not v):
            raise ProfileError(
                f"no decoy model of {', '.join(none)} fits the smallest board's heap: "
                "give the device fewer channels"
            )
        chosen = {d: min(v, key=lambda so: so[0].objective()) for d, v in scores.items()}
        warnings = []
        for d, v in sorted(scores.items()):
            if min(sc.discriminative for sc, _o in v) >= SATURATED:
                why = changed(as_series(early_by.get(d, []), specs[d]), held[d])
                warnings.append(
                    f"{d}: every candidate's fakes were told apart on the held-back days"
                    + (f"; {why} (a sensor stuck, moved or replaced?)" if why else "")
                    + ": the check ranked them by the attackers' mean"
                )
                say(f"  {warnings[-1]}")
        say("auditing the chosen profiles on the held-back history")
        profiles = _fit(
            home, early, specs, label_times, labels, {d: o for d, (_s, o) in chosen.items()}
        )
        got = rehearse(home, specs, profiles, held, Path(tmp) / "chosen")
        report = run_audit(got, home.keys(), specs, labels=lab)
    final = _fit(
        home, readings, specs, label_times, labels, {d: o for d, (_s, o) in chosen.items()}
    )
    stamp = time.strftime("%Y-%m-%d")
    out = {}
    for d, (sc, opts) in chosen.items():
        final[d]["check"] = {"date": stamp, "held_back_days": round(days, 2), **sc.to_json()}
        home.save_profile(d, final[d])
        out[d] = DeviceOutcome(before.get(d), sc, opts, len(mine[d]))
    return FitOutcome(out, report, days, warnings)


def fit_unchecked(home: Home, items, *, label_times=None, labels=None) -> dict[str, int]:
    """Profiles fitted on the whole history without a check (a history too short to hold any
    back); they are saved marked unchecked."""
    specs = home.require_devices()
    readings, _report = decode(home.keys(), specs, items)
    check_labels(readings, label_times)
    mine = by_device(readings)
    profiles = _fit(
        home, readings, {d: s for d, s in specs.items() if d in mine}, label_times, labels, {}
    )
    for d, p in profiles.items():
        p["check"] = None
        home.save_profile(d, p)
    return {d: len(mine[d]) for d in profiles}


def _fit(home, readings, specs, label_times, labels, options) -> dict[str, dict]:
    """Fit every device's profile, then scale its walks on the history it was fitted on."""
    try:
        profiles = fit_home(
            readings, specs, label_times=label_times, labels=labels, options=options
        )
    except ValueError as e:
        raise ProfileError(f"cannot fit a profile: {e}") from None
    mine = by_device(readings)
    tail = {d: as_series(mine[d][-CALIBRATION_READINGS:], specs[d]) for d in profiles}
    fits = {d: specs[d] for d in profiles if _fits_board(specs[d], profiles[d], lambda _m: None)}
    if not fits:  # the rehearsal says why none is tried
        return profiles
    with tempfile.TemporaryDirectory(prefix="veil-calibrate-") as tmp:
        try:
            got = rehearse(home, fits, profiles, {d: tail[d] for d in fits}, Path(tmp))
        except SimError:  # the rehearsal of this model will say so, and skip it
            return profiles
    calibrate(profiles, load_tracks(got, home.keys(), fits))
    return profiles


def calibrate(profiles: dict[str, dict], tracks: dict) -> None:
    """Scale each slow walk's steps (a model's `scale`, x 256) by how much its fakes moved
    against the real readings over the history the model was fitted on, which the firmware
    has just disguised: the generator checks itself before anything reaches a board (on the
    appliances house its fakes moved 1.2 to 3 times as much as the real rooms they were
    fitted on: a momentum shared by merged contexts, the pace and the day's curve each
    smear the share of repeated readings). Switches are left as they are: a scaled step
    would leave a light half on."""
    for dev, tr in tracks.items():
        same = tr.real[1:] == tr.real[:-1]  # no re-deal between the two ticks
        is_real = np.arange(tr.k)[:, None] == tr.real[None, 1:]
        fake_at, real_at = ~is_real & same, is_real & same
        if not (fake_at.any() and real_at.any()):
            continue
        for c, ch in enumerate(tr.spec.channels):
            model = profiles[dev]["channels"][ch.name]
            if model.get("shared") or model["kind"] in SWITCHING:
                continue
            moves = np.abs(np.diff(tr.values[:, :, c], axis=1))
            fake, real = moves[fake_at].mean(), moves[real_at].mean()
            if fake > 0 and real > 0:
                model["scale"] = int(np.clip(round(256 * real / fake), 64, 1024))
            if model.get("follow") and model.get("fit", {}).get("own_day"):
                _aim_at_own_day(model, tr, c)


def _aim_at_own_day(model: dict, tr, c: int) -> None:
    """A climate walk's rows draw a day of their own, which is not the real room's: on the
    appliances house the fakes sank 0.3 to 0.9 of the room's spread below it through every
    evening of the history they were fitted on. The board moves a fake by how much more the
    real day's curve moves than `aim` (firmware Channel.curve), so `aim` becomes the fakes'
    own day, measured here as their mean height (grid steps) beside the real readings at
    each local hour, and `day` the real one the board starts from."""
    period, offsets = model["grid"]
    n = np.round(np.nan_to_num(tr.values[:, :, c]) * 10.0 ** model["dec"]).astype(np.int64)
    index = grid_index(n, period, offsets)
    gap = index - index[tr.real, np.arange(len(tr.times))][None, :]
    fake = (np.arange(tr.k)[:, None] != tr.real[None, :]) & np.isfinite(tr.values[:, :, c])
    hours = np.broadcast_to(local_hours(tr.times, tr.tz)[None, :], gap.shape)[fake]
    gap = gap[fake]
    counts = np.bincount(hours, minlength=24)
    if counts.min() == 0:  # a history shorter than a day: no day of their own to measure
        return
    own = np.round(np.bincount(hours, weights=gap, minlength=24) / counts).astype(int)
    model["day"] = list(model["aim"])
    model["aim"] = [int(a + g) for a, g in zip(model["day"], own, strict=True)]


def _current(home: Home, device: str) -> dict | None:
    """The profile the device has, if this firmware can run it."""
    try:
        return home.profile(device)
    except VeilError:
        return None


def describe(o: WalkOptions) -> str:
    return (
        f"floor over {o.floor_hours} h, {o.bands} hour band{'s' if o.bands > 1 else ''}, "
        f"{o.levels} height classes{', momentum' if o.ar else ''}"
        f"{', climate walks aimed at their own day' if o.own_day else ''}"
        f"{', the day spent on toggles' if o.toggles else ''}"
    )
