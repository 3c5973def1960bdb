"""Check firmware/veil/proto.py and roles.py against tests/vectors/v1.json or v2.json under the
MicroPython binary.

Run as `micropython check_vectors.py VECTORS` with MICROPYPATH pointing at firmware/. Prints one
line per mismatch and a final "checked N" line; exits 1 on any mismatch.
"""

import binascii
import json
import sys

from veil import proto, roles

RFC4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
]
LABELS = {
    "real": b"veil/v1/tag/real",
    "fake": b"veil/v1/tag/fake",
    "track": b"veil/v1/track",
    "decoy": b"veil/v1/decoy",
}

bad = 0
n = 0


def check(what, got, want):
    global bad, n
    n += 1
    if got != want:
        bad += 1
        print("MISMATCH", what, got, want)


def hexs(b):
    return binascii.hexlify(b).decode()


for key, msg, want in RFC4231:
    check("rfc4231", hexs(proto.Hmac(key).digest(msg)), want)

with open(sys.argv[1]) as f:
    vec = json.load(f)
home = binascii.unhexlify(vec["home_key"])
sub = {name: proto.subkey(home, label) for name, label in LABELS.items()}
for name in LABELS:
    check("subkey " + name, hexs(sub[name]), vec["subkeys"][name])

for d in vec.get("days", ()):
    check("day %d %d" % (d["ts"], d["tz"]), roles.day_of(d["ts"], d["tz"]), d["day"])

for t in vec["tracks"]:
    dev = t["dev"].encode()
    day = t.get("day")
    what = "track %s/%d/%d/%s" % (t["dev"], t["ep"], t["k"], day)
    check(what, proto.placement(sub["track"], dev, t["ep"], t["k"]), t["placement"])
    check(what, proto.real_household(sub["track"], t["ep"], t["k"], day), t["real_household"])
    check(what, proto.real_track(sub["track"], dev, t["ep"], t["k"], day), t["real_track"])

for r in vec["records"]:
    s = r["spec"]
    version = s.get("version", 1)
    chans = [(c["name"], c["dec"], c["lo"], c["hi"]) for c in s["channels"]]
    enc = proto.Encoder(s["device"], s["k"], s["epoch"], chans, sub["real"], sub["fake"], version)
    houses = proto.placement(sub["track"], s["device"].encode(), s["epoch"], s["k"])
    role = roles.Roles(sub["track"], s["epoch"], houses, version, s.get("tz", 0))
    day, sec = divmod(r["ts"], 86400)
    real = r["trk"] == role.track(day, sec)
    check("real %d" % r["seq"], real, r["real"])
    line = enc.encode(
        r["mask"], r["boot"], r["seq"], r["trk"], day, sec, r["values"], real, r["drops"]
    )
    check("canonical %d" % r["seq"], hexs(enc.canonical()), r["canonical"])
    check("line %d" % r["seq"], bytes(line), (r["line"] + "\n").encode())
    check("size %d" % r["seq"], enc.size, len(r["line"]) + 1)

print("checked", n)
sys.exit(1 if bad else 0)
