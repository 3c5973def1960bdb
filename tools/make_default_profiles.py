"""Fit the default decoy models shipped in host/veil/privacy/profiles/defaults.json from recorded
data.

    python tools/make_default_profiles.py ../shared/data

A device uses them until its owner fits a profile from the home's own readings. Sources:
- temperature (0.01), light, CO2, motion at 30 s: UCI Room Occupancy Estimation, nodes S1,
  S5 and S6, with the data set's occupancy labels as the latent states;
- door: derived from the same PIR (S6): the door opens for one reading when motion starts
  after at least 30 minutes without any, or stops for at least 30 minutes (arrivals and
  departures); no recorded door-contact data was available;
- temperature (0.1) and humidity at 10 minutes: UCI Appliances Energy Prediction, kitchen
  (T1, RH_1), states inferred from the house's light use;
- occupancy: the same house's light use (a home, where the room data set is an office).
"""

import csv
import json
import sys
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import numpy as np

from veil.privacy import profile as prof

PROFILES = Path(__file__).resolve().parents[1] / "host" / "veil" / "privacy" / "profiles"
OUT = PROFILES / "defaults.json"
QUIET_S = 1800


def door_from_motion(times: np.ndarray, motion: np.ndarray) -> list[int]:
    """1 for the reading where a motion burst starts or ends after QUIET_S of stillness."""
    moving = np.flatnonzero(motion > 0)
    door = np.zeros(len(times), dtype=int)
    for n, (a, b) in enumerate(pairwise(moving)):
        if times[b] - times[a] >= QUIET_S:
            door[a] = door[b] = 1
        if n == 0:
            door[a] = 1
    return door.tolist()


def model(ch: prof.ChannelData, times, states, period):
    m = prof.fit_channel(ch, times, states, period)
    m.pop("meet")  # a default profile keeps the default bridge
    m["period_s"] = period
    return m


def main(src: Path):
    rows = list(
        csv.DictReader((src / "room_occupancy_estimation" / "Occupancy_Estimation.csv").open())
    )
    stamp = "%d-%m-%Y %H:%M:%S"
    t = np.array(
        [int(datetime.strptime(f"{r['Date']} {r['Time']}", stamp).timestamp()) for r in rows]
    )
    states = np.array([prof.AWAKE if int(r["Room_Occupancy_Count"]) else prof.AWAY for r in rows])
    room_period = float(np.median(np.diff(t)))

    def col(name, dec):
        return [round(float(r[name]) * 10**dec) for r in rows]

    models = {}
    for key, name, dec, kind in (
        ("temperature@2", "S1_Temp", 2, "temperature"),
        ("light@0", "S1_Light", 0, "light"),
        ("co2@0", "S5_CO2", 0, "co2"),
        ("motion@0", "S6_PIR", 0, "motion"),
    ):
        models[key] = model(
            prof.ChannelData(name, dec, col(name, dec), kind), t, states, room_period
        )
    door = door_from_motion(t, np.array(col("S6_PIR", 0)))
    models["door@0"] = model(prof.ChannelData("door", 0, door, "door"), t, states, room_period)

    rows = list(csv.DictReader((src / "appliances_energy" / "energydata_complete.csv").open()))
    t = np.array([int(datetime.fromisoformat(r["date"]).timestamp()) for r in rows])
    lights = prof.ChannelData("lights", 0, [round(float(r["lights"])) for r in rows], "light")
    states = prof.infer_states(t, [lights])
    home_period = float(np.median(np.diff(t)))
    for key, name, kind in (
        ("temperature@1", "T1", "temperature"),
        ("humidity@1", "RH_1", "humidity"),
    ):
        ch = prof.ChannelData(name, 1, [round(float(r[name]) * 10) for r in rows], kind)
        models[key] = model(ch, t, states, home_period)
    doc = {"veil_defaults": 1, "occupancy": prof.fit_occupancy(t, states), "models": models}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(models)} models)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
