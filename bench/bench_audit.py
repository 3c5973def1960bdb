"""The whole pipeline on every recorded data set: fit, disguise with the real firmware, audit.

    python bench/bench_audit.py [../shared/data] [--only SET]... [--k 4] [--seed 0]
        [--json FILE] [--keep DIR] [--no-check]

For each set: the decoy profiles are fitted on the first 60% of the readings with the fit an
owner runs (`fit_profiles`, the one call site of veil's fit), then every device runs the real
firmware under the MicroPython Unix port over the remaining 40%, and `veil audit`'s attacks
learn on the earlier 60% of that disguised part and are tested on the rest. Same code and
procedure for every set; what differs is data description only (which columns make a
device, their decimals, labels, a public covariate, the time zone). Prints each set's table.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from veil.boards.provision import device_config, stage
from veil.dataset import Series, _channel
from veil.feed import read_feed
from veil.owner.devices import household
from veil.owner.home import Home
from veil.privacy.audit import Series1D, run_audit
from veil.privacy.walk import WalkOptions
from veil.protocol import DeviceSpec, encode_line
from veil.sim.rehearse import describe, fit_by_audit, fit_unchecked
from veil.sim.replay import run_folder

FIT = 0.6  # share of the readings the profiles are fitted on; the rest is disguised


@dataclass
class DataSet:
    """A recorded data set as devices of one home (data description, not tuning)."""

    name: str
    title: str
    devices: dict[str, list[tuple[str, int]]]  # device -> [(column, decimals)]
    times: dict[str, np.ndarray]  # device -> Unix seconds
    columns: dict[str, list[str]]  # column -> cells (per device's rows)
    labels: tuple[np.ndarray, np.ndarray] | None = None  # times, occupied 0/1
    covariate: tuple[np.ndarray, np.ndarray] | None = None
    tz: int = 0  # local time is UTC + tz
    notes: list[str] = field(default_factory=list)


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _naive(text: str, fmt: str | None = None) -> int:
    """Unix seconds of a naive local time, read as UTC (the set's tz is then 0)."""
    t = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
    return int(t.replace(tzinfo=UTC).timestamp())


def room(src: Path) -> DataSet:
    rows = _rows(src / "room_occupancy_estimation" / "Occupancy_Estimation.csv")
    t = np.array([_naive(f"{r['Date']} {r['Time']}", "%d-%m-%Y %H:%M:%S") for r in rows])
    devices = {"co2": [("S5_CO2", 0)], "pir": [("S6_PIR", 0), ("S7_PIR", 0)]}
    devices.update({f"node{i}": [(f"S{i}_Temp", 2), (f"S{i}_Light", 0)] for i in range(1, 5)})
    occupied = np.array([int(r["Room_Occupancy_Count"]) > 0 for r in rows], dtype=int)
    return DataSet(
        "room",
        "UCI Room Occupancy Estimation: an office room, CO2 node, PIR node, four "
        "light/temperature nodes, ~30 s",
        devices,
        dict.fromkeys(devices, t),
        _columns(rows, devices),
        labels=(t, occupied),
    )


def appliances(src: Path) -> DataSet:
    rows = _rows(src / "appliances_energy" / "energydata_complete.csv")
    t = np.array([_naive(r["date"]) for r in rows])
    # the T and RH columns are 10-minute means (values like 19.856666): published at 0.1,
    # a typical home sensor's precision
    devices = {f"room{i}": [(f"T{i}", 1), (f"RH_{i}", 1)] for i in (1, 2, 3, 4, 5, 7, 8, 9)}
    return DataSet(
        "appliances",
        "UCI Appliances Energy: a house, 8 rooms (temperature, humidity), 10 min; "
        "public covariate T_out",
        devices,
        dict.fromkeys(devices, t),
        _columns(rows, devices),
        covariate=(t, np.array([float(r["T_out"]) for r in rows])),
    )


def robod(src: Path) -> DataSet:
    chans = [
        ("air_temperature", 2),
        ("indoor_relative_humidity", 1),
        ("illuminance", 0),
        ("indoor_co2", 0),
    ]
    devices, times, columns, present = {}, {}, {}, []
    for i in (1, 2, 3):
        rows = _rows(src / "robod" / f"robod_room{i}.csv")
        dev = f"room{i}"
        # one name per column of the home: the room's number on each
        devices[dev] = [(f"{c}_{i}", dec) for c, dec in chans]
        times[dev] = np.array([int(datetime.fromisoformat(r["time"]).timestamp()) for r in rows])
        for c, _dec in chans:
            columns[f"{c}_{i}"] = [r[c] for r in rows]
        present.append(np.array([int(float(r["occupant_presence"])) for r in rows]))
    return DataSet(
        "robod",
        "ROBOD rooms 1-3 (two lecture rooms, an office), 5 min, camera-counted presence",
        devices,
        times,
        columns,
        labels=(times["room1"], np.max(present, axis=0)),  # anyone in any of the rooms
        tz=8 * 3600,
        notes=["labels: occupied when any of the three rooms has someone in it"],
    )


KITCHEN = ["microwave", "fridge", "freezer", "cups_cupboard", "plates_cupboard"]
KITCHEN += ["pans_cupboard", "groceries_cupboard", "dishwasher"]


def kasteren(src: Path) -> DataSet:
    rows = _rows(src / "kasteren_house_a" / "kasteren_1min.csv")
    t = np.array([_naive(r["time"]) for r in rows])
    places = {
        "kitchen": KITCHEN,
        "bath": ["toiletflush", "washingmachine", "hall_toilet_door", "hall_bathroom_door"],
        "hall": ["frontdoor", "hall_bedroom_door"],
    }
    devices = {p: [(c, 0) for c in cols] for p, cols in places.items()}
    return DataSet(
        "kasteren",
        "van Kasteren House A: a flat's door and cupboard contacts by place, 1 min on-state",
        devices,
        dict.fromkeys(devices, t),
        _columns(rows, devices),
        labels=(t, np.array([int(r["occupied"]) for r in rows])),
    )


SETS = {"room": room, "appliances": appliances, "robod": robod, "kasteren": kasteren}


def _columns(rows: list[dict], devices: dict) -> dict[str, list[str]]:
    return {c: [r[c] for r in rows] for cols in devices.values() for c, _dec in cols}


def series(ds: DataSet, dev: str) -> Series:
    """The device's readings as the replay driver takes them (empty cells: no reading)."""
    chans, cols = [], []
    for col, dec in ds.devices[dev]:
        ints = [round(float(x) * 10**dec) if x.strip() else None for x in ds.columns[col]]
        chans.append(_channel(col, dec, ints))
        cols.append(ints)
    return Series(
        [int(x) for x in ds.times[dev]], chans, [list(r) for r in zip(*cols, strict=True)]
    )


def part(s: Series, keep: np.ndarray) -> Series:
    idx = np.flatnonzero(keep)
    return Series([s.times[i] for i in idx], s.channels, [s.rows[i] for i in idx])


def fit_profiles(
    home: Home, history: dict[str, Series], labels, folder: Path, *, check: bool = True
) -> None:
    """The decoy profiles from the home's history, exactly as `veil profile fit` makes them
    from a decoded feed (veil.sim.rehearse: rehearsed on held-back history, or without the
    check as `--no-check`): the one place the bench calls veil's fit."""
    feed = folder / "history.jsonl"
    keys, specs = home.keys(), home.devices()
    with feed.open("wb") as f:
        for dev, s in history.items():
            spec = specs[dev]
            for seq, (ts, row) in enumerate(zip(s.times, s.rows, strict=True)):
                values = tuple(0 if n is None else n for n in row)
                mask = sum(1 << i for i, n in enumerate(row) if n is None)
                for trk in range(spec.k):
                    f.write(
                        encode_line(
                            spec, keys, boot=0, seq=seq, trk=trk, ts=ts, values=values, mask=mask
                        )
                        + b"\n"
                    )
    label_times = values = None
    if labels is not None:
        label_times, values = labels
    if check:
        fit_by_audit(home, read_feed(feed), label_times=label_times, labels=values, progress=note)
    else:
        fit_unchecked(home, read_feed(feed), label_times=label_times, labels=values)


def note(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def run(ds: DataSet, k: int, seed: int, workdir: Path, check: bool = True):
    t_start = time.perf_counter()
    home = Home(workdir / ds.name / "home")
    home.keygen()
    every = np.concatenate(list(ds.times.values()))
    fit_end = int(np.quantile(every, FIT))
    full = {dev: series(ds, dev) for dev in ds.devices}
    for dev, s in full.items():  # by the home's rules; the profiles come from the fit
        k_home, epoch, version, tz = household(home, dev, k=k, tz=ds.tz)
        home.save_device(DeviceSpec(dev, k_home, epoch, tuple(s.channels), version, tz))
    history = {dev: part(s, ds.times[dev] < fit_end) for dev, s in full.items()}
    labels = None
    if ds.labels is not None:
        keep = ds.labels[0] < fit_end
        labels = (ds.labels[0][keep], ds.labels[1][keep])
    fit_profiles(home, history, labels, workdir / ds.name, check=check)
    t_fit = time.perf_counter()
    chosen = {dev: chosen_options(home.profile(dev)) for dev in ds.devices}
    for dev, opts in chosen.items():
        note(f"{ds.name}/{dev}: {describe(WalkOptions(**opts)) if opts else 'no walks'}")
    feeds = []
    for dev, s in full.items():
        board = workdir / ds.name / dev
        board.mkdir(parents=True)
        spec = home.devices()[dev]
        config = device_config(spec, log_every=10**9)
        stage(
            board, home, config, profile=home.profile(dev), series=part(s, ds.times[dev] >= fit_end)
        )
        run_folder(board)
        feeds.append(board / "feed.jsonl")
        print(f"  {ds.name}/{dev}: disguised by the firmware", file=sys.stderr, flush=True)
    t_fw = time.perf_counter()
    items = [item for f in feeds for item in read_feed(f)]
    lab = Series1D(*ds.labels) if ds.labels is not None else None
    cov = Series1D(*ds.covariate) if ds.covariate is not None else None

    def progress(phase, done=0, total=None):
        if not done:
            print(f"  {ds.name}: {phase}", file=sys.stderr, flush=True)

    report = run_audit(
        items,
        home.keys(),
        home.devices(),
        labels=lab,
        covariate_series=cov,
        seed=seed,
        progress=progress,
    )
    t_end = time.perf_counter()
    day = lambda t: datetime.fromtimestamp(int(t) + ds.tz, UTC).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    dates = {
        "fit": [day(every.min()), day(fit_end)],
        "disguised": [day(fit_end), day(every.max())],
        "attackers_trained_until": day(report.cut),
    }
    secs = {"fit": t_fit - t_start, "firmware": t_fw - t_fit, "audit": t_end - t_fw}
    print(
        f"\n### {ds.name}: {ds.title}\n\n"
        f"{len(ds.devices)} devices, k = {k}; profiles fitted (`veil profile fit"
        f"{'' if check else ' --no-check'}`) on {dates['fit'][0]} .. "
        f"{dates['fit'][1]}, disguised {dates['disguised'][0]} .. {dates['disguised'][1]}; "
        f"attackers trained until {dates['attackers_trained_until']} and tested after "
        f"({report.test_days} test days). Local times. "
        + " ".join(ds.notes)
        + f"\n({secs['fit']:.0f} s fit, {secs['firmware']:.0f} s firmware, "
        f"{secs['audit']:.0f} s audit)\n"
    )
    print(report.text())
    return {
        "set": ds.name,
        "dates": dates,
        "seconds": secs,
        "chosen": chosen,
        "report": report.to_json(),
    }


def chosen_options(profile: dict) -> dict:
    """The walk options the fit chose for a device (every walked channel has the same)."""
    fits = [m["fit"] for m in profile["channels"].values() if "fit" in m]
    return fits[0] if fits else {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, nargs="?", default=Path("../shared/data"))
    ap.add_argument("--only", choices=sorted(SETS), action="append")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write every report's numbers here")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it (homes, feeds)")
    ap.add_argument(
        "--no-check",
        action="store_true",
        help="fit as `veil profile fit --no-check` (no rehearsal): quicker, not the owner's fit",
    )
    args = ap.parse_args()
    if not args.data.is_dir():
        ap.error(
            f"no data folder {args.data} (the recorded sets, ../shared/data on these machines)"
        )
    t0 = time.perf_counter()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        for name, loader in SETS.items():
            if args.only and name not in args.only:
                continue
            out.append(run(loader(args.data), args.k, args.seed, work, not args.no_check))
    print(f"\nwhole run: {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
