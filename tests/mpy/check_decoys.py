"""Run firmware/veil/decoy.py over tests/vectors/decoys.json and compare every fake value, or
with --write, print the values it makes (tools/make_decoy_vectors.py). Runs under MicroPython
and, with tests/shims on the path, under CPython: both must give the same fakes.

    micropython check_decoys.py VECTORS [--write]
"""

import binascii
import io
import json
import sys

from veil import proto
from veil.decoy import Decoys

with open(sys.argv[1]) as f:
    vec = json.load(f)
k_decoy = proto.subkey(binascii.unhexlify(vec["home_key"]), b"veil/v1/decoy")
chans = [tuple(c) for c in vec["channels"]]
tables = b""  # decoy.bin, as provisioning makes it from the profile's base64 tables
for c in chans:
    model = vec["profile"]["channels"][c[0]]
    if not model.get("shared"):
        index, p, q = (binascii.a2b_base64(model.pop(key)) for key in ("index", "P", "Q"))
        tables += index + p + q
        model["rows"] = len(p) // 48  # 24 knots of 2 bytes a row
dec = Decoys(
    vec["profile"],
    io.BytesIO(tables),
    chans,
    k_decoy,
    vec["device"].encode(),
    0,
    vec["placement"],
    0,
)
k = len(vec["placement"])
values = [[0] * len(chans) for _ in range(k)]
made = []
for tick in vec["ticks"]:
    real = tick["real"]
    values[real][:] = tick["reading"]
    day, sec = divmod(tick["ts"], 86400)
    dec.tick(tick["seq"], day, sec, real, values, values[real], tick["failed"])
    made.append([list(v) for v in values])
if "--write" in sys.argv:
    print(json.dumps(made))
else:
    bad = sum(1 for got, want in zip(made, vec["expected"]) if got != want)
    bad += abs(len(made) - len(vec["expected"]))
    print("checked %d ticks, %d differ" % (len(made), bad))
    sys.exit(1 if bad else 0)
