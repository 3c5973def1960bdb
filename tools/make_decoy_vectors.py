"""Write tests/vectors/decoys.json: a fixed key, a fixed decoy profile and fixed real readings,
and the fakes firmware/veil/decoy.py makes from them (computed under the MicroPython Unix
port). tests/test_decoy_vectors.py checks that the firmware still makes exactly these fakes,
under MicroPython and under CPython alike.

    python tools/make_decoy_vectors.py

Rerun it only when the decoy algorithm changes on purpose (docs/decoys.md), and say so.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from veil import dataset
from veil.privacy.profile import fit_series

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "vectors" / "decoys.json"
DATA = REPO / "host" / "veil" / "sim" / "data" / "room_occupancy.csv"
CHANNELS = ["S1_Temp", "S1_Light", "S5_CO2", "S6_PIR"]
START = 1514084400  # 2017-12-24 03:00 UTC: the real household is re-dealt at 04:00


def main():
    series = dataset.load(DATA, channels=CHANNELS)
    profile = fit_series(dataset.Series(series.times[:2000], series.channels, series.rows[:2000]))
    rows = series.rows[2000:2600]
    ticks = []
    for n, row in enumerate(rows):
        ts = START + 30 * n
        failed = 0b0101 if 200 <= n < 205 else 0  # stand-ins for two channels
        reading = [0 if v is None else v for v in row]
        ticks.append({"seq": n, "ts": ts, "real": 1 if ts < START + 3600 else 3, "reading": reading,
                      "failed": failed})  # fmt: skip
    vec = {
        "about": "decoys made by firmware/veil/decoy.py: tools/make_decoy_vectors.py",
        "home_key": bytes(range(32)).hex(),
        "device": "vec",
        "placement": [2, 0, 3, 1],
        "channels": [[c.name, c.dec, c.lo, c.hi] for c in series.channels],
        "profile": profile,
        "ticks": ticks,
    }
    OUT.write_text(json.dumps(vec))
    env = dict(os.environ, MICROPYPATH=f"{REPO / 'firmware'}:.frozen")
    exe = Path(sys.executable).parent / "micropython"
    script = REPO / "tests" / "mpy" / "check_decoys.py"
    made = subprocess.run([exe, script, OUT, "--write"], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    vec["expected"] = json.loads(made.stdout)
    OUT.write_text(json.dumps(vec, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(ticks)} ticks)")


if __name__ == "__main__":
    main()
