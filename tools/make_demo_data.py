"""Cut the small data slices shipped in host/veil/sim/data/ from the full recorded data sets.

    python tools/make_demo_data.py ../shared/data

room_occupancy.csv: UCI "Room Occupancy Estimation" (Singh et al., 2018; CC BY 4.0), the
December recording (2017-12-22 to 2017-12-26: two days with people present, three without).
Date and Time are merged into one ISO `time` column (the recording's local time, written
without a zone); the sound columns and the derived CO2 slope are left out; every other value
is copied as text, unchanged.

appliances_home.csv: UCI "Appliances Energy Prediction" (Candanedo et al., 2017), three weeks
(2016-02-01 to 2016-02-21) of the house's eight indoor rooms (T1-T5, T7-T9 and RH alike; T6 is
outdoors), the weather station's outdoor temperature T_out and the lights' energy use. Values
are rounded to 0.1 (the rooms' columns are 10-minute means such as 19.856666, published at a
home sensor's precision); times as in the source.
"""

import csv
import sys
from datetime import datetime
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "host" / "veil" / "sim" / "data"
ROOM_COLUMNS = [
    "S1_Temp",
    "S2_Temp",
    "S3_Temp",
    "S4_Temp",
    "S1_Light",
    "S2_Light",
    "S3_Light",
    "S4_Light",
    "S5_CO2",
    "S6_PIR",
    "S7_PIR",
    "Room_Occupancy_Count",
]
ROOM_DAYS = ("22-12-2017", "23-12-2017", "24-12-2017", "25-12-2017", "26-12-2017")


def room(src: Path) -> None:
    with (src / "room_occupancy_estimation" / "Occupancy_Estimation.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["Date"] in ROOM_DAYS]
    out = OUT / "room_occupancy.csv"
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time", *ROOM_COLUMNS])
        for r in rows:
            t = datetime.strptime(f"{r['Date']} {r['Time']}", "%d-%m-%Y %H:%M:%S")
            w.writerow([t.isoformat(), *(r[c] for c in ROOM_COLUMNS)])
    print(f"wrote {out}: {len(rows)} rows")


HOME_ROOMS = (1, 2, 3, 4, 5, 7, 8, 9)
HOME_DAYS = ("2016-02-01", "2016-02-22")


def home(src: Path) -> None:
    with (src / "appliances_energy" / "energydata_complete.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if HOME_DAYS[0] <= r["date"] < HOME_DAYS[1]]
    cols = [f"T{i}" for i in HOME_ROOMS] + [f"RH_{i}" for i in HOME_ROOMS] + ["T_out"]
    out = OUT / "appliances_home.csv"
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time", *cols, "lights"])
        for r in rows:
            t = r["date"].replace(" ", "T")
            w.writerow([t, *(f"{float(r[c]):.1f}" for c in cols), int(float(r["lights"]))])
    print(f"wrote {out}: {len(rows)} rows")


if __name__ == "__main__":
    room(Path(sys.argv[1]))
    home(Path(sys.argv[1]))
