"""The privacy audit on the full recorded data sets, with k=4 and profiles fitted on the
training period only.

    python bench/bench_audit.py ../shared/data [--k 4] [--seed 0]

room_occupancy_estimation (office room, occupancy labels): devices are the sensor groups — the
CO2 node, the four light/temperature nodes and the PIR node. appliances_energy (a real home):
devices are its eight indoor rooms (temperature, humidity); the outdoor temperature T_out of
the nearby weather station is the public covariate. Each device runs the real firmware under
the MicroPython Unix port over the whole recording; the audit trains its attackers on the
first 60% of the readings and tests them on the rest. Prints one table per data set.
"""

import argparse
import csv
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from veil.boards.provision import board_config, stage
from veil.dataset import Series, _channel
from veil.feed import read_feed
from veil.owner.devices import define_device
from veil.owner.home import Home
from veil.privacy import profile as prof
from veil.privacy.audit import Series1D, run_audit
from veil.sim.replay import run_folder


def room(src: Path):
    rows = list(
        csv.DictReader((src / "room_occupancy_estimation" / "Occupancy_Estimation.csv").open())
    )
    times = [
        int(datetime.strptime(f"{r['Date']} {r['Time']}", "%d-%m-%Y %H:%M:%S").timestamp())
        for r in rows
    ]
    devices = {"co2": ["S5_CO2"], "pir": ["S6_PIR", "S7_PIR"]}
    devices.update({f"node{i}": [f"S{i}_Temp", f"S{i}_Light"] for i in range(1, 5)})
    labels = np.array([int(r["Room_Occupancy_Count"]) > 0 for r in rows])
    return times, rows, devices, {"labels": labels, "dec": lambda col: 2 if "Temp" in col else 0}


def appliances(src: Path):
    rows = list(csv.DictReader((src / "appliances_energy" / "energydata_complete.csv").open()))
    times = [int(datetime.fromisoformat(r["date"]).timestamp()) for r in rows]
    devices = {f"room{i}": [f"T{i}", f"RH_{i}"] for i in (1, 2, 3, 4, 5, 7, 8, 9)}
    cov = np.array([float(r["T_out"]) for r in rows])
    activity = [float(r["lights"]) for r in rows]
    # the T and RH columns are 10-minute means of several readings (values like 19.856666):
    # published at 0.1, the precision of a typical home sensor
    return times, rows, devices, {"covariate": cov, "activity": activity, "dec": lambda col: 1}


def series(times, rows, columns, dec_of) -> Series:
    chans, cols = [], []
    for col in columns:
        dec = dec_of(col)
        ints = [round(float(r[col]) * 10**dec) for r in rows]
        chans.append(_channel(col, dec, ints))
        cols.append(ints)
    return Series(times, chans, [list(x) for x in zip(*cols, strict=True)])


def run(name, times, rows, devices, extra, k, seed, workdir: Path):
    t0 = time.perf_counter()
    home = Home(workdir / name / "home")
    home.keygen()
    t = np.asarray(times)
    order = np.argsort(t, kind="stable")
    assert (order == np.arange(len(t))).all(), "data must be in time order"
    cut = int(np.quantile(t, 0.6))
    train = t < cut
    if "labels" in extra:
        states = np.where(extra["labels"], prof.AWAKE, prof.AWAY)
    else:
        act = prof.ChannelData("lights", 0, [int(x) for x in extra["activity"]], "light")
        states = prof.infer_states(t, [act])
    occ = prof.fit_occupancy(t[train], states[train])
    feed = []
    for dev, cols in devices.items():
        s = series(times, rows, cols, extra["dec"])
        chans = [
            prof.ChannelData(
                c.name, c.dec, [r[i] for r in s.rows[: train.sum()]], prof.guess_kind(c.name)
            )
            for i, c in enumerate(s.channels)
        ]
        profile = prof.fit_profile(t[train], chans, states=states[train], occupancy=occ)
        definition = define_device(home, dev, s.channels, k=k, profile=profile)
        board = workdir / name / dev
        board.mkdir(parents=True)
        config = board_config(definition.spec, pace="fast", log_every=10**9)
        stage(board, home, config, profile=definition.profile, series=s)
        definition.save(home)
        run_folder(board)
        feed.append(board / "feed.jsonl")
    items = [item for f in feed for item in read_feed(f)]
    labels = Series1D(t, extra["labels"]) if "labels" in extra else None
    cov = Series1D(t, extra["covariate"]) if "covariate" in extra else None
    report = run_audit(
        items, home.keys(), home.devices(), labels=labels, covariate_series=cov, seed=seed
    )
    secs = time.perf_counter() - t0
    print(
        f"\n### {name}: {len(devices)} devices, k={k}, {len(times)} readings each, "
        f"trained before {datetime.fromtimestamp(report.cut):%Y-%m-%d %H:%M} ({secs:.0f} s)\n"
    )
    print(report.table())
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="folder holding the shared data sets")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["room", "appliances"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, loader in (("room", room), ("appliances", appliances)):
            if args.only and args.only != name:
                continue
            run(name, *loader(args.data), args.k, args.seed, Path(tmp))


if __name__ == "__main__":
    main()
