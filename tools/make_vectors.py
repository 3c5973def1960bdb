"""Regenerate tests/vectors/v1.json and v2.json from the host implementation of the protocol.

Run only when the protocol changes on purpose: the vectors pin the format, and the test suite
checks both the firmware (under MicroPython) and the host (under CPython) against them, and
the vectors against the spec's text (tests/test_vectors.py re-derives them from it). v1.json
is left exactly as it was when v2 came: a v1 spec is written without the v2 fields.
"""

import json
from dataclasses import replace
from pathlib import Path

from veil.protocol import (
    DAY_S,
    DAY_START_S,
    LABEL_DECOY,
    LABEL_FAKE,
    LABEL_REAL,
    LABEL_TRACK,
    CanonicalPacker,
    Channel,
    DeviceSpec,
    HomeKeys,
    encode_line,
    hidden_field,
    household_day,
    placement,
    real_household,
    real_track,
    subkey,
)

OUT = Path(__file__).resolve().parents[1] / "tests" / "vectors"
HOME_KEY = bytes(range(32))

SPECS = [
    DeviceSpec(
        "room1",
        4,
        0,
        (
            Channel("temp", 2, -4000, 8500),
            Channel("light", 0, 0, 65535),
            Channel("co2", 0, 0, 40000),
            Channel("pir", 0, 0, 1),
        ),
    ),
    DeviceSpec("kitchen-2", 2, 7, (Channel("rh", 3, 0, 100000),)),
    DeviceSpec("x", 16, 4294967295, (Channel("t", 6, -2000000000, 2000000000),)),
    DeviceSpec("wide", 3, 1, tuple(Channel(f"c{i}", i % 3, -100, 100) for i in range(24))),
]
INPUTS = [
    # spec index, stand-in mask, drop report, boot, seq, trk, ts, values
    # (mask and report are asked for every record; only the real track carries them)
    (0, 0, 0, 0, 0, 0, 1513939781, (2494, 121, 390, 0)),
    (0, 0, 0, 3, 1282, 1, 1513939811, (-5, 0, 40000, 1)),
    (0, 5, 0, 3, 1283, 2, 1513939841, (0, 65535, 0, 0)),
    (0, 0, 0, 9, 2**48 - 1, 3, 4294967295, (8500, 7, 412, 1)),
    (1, 0, 0, 1, 64, 0, 1700000000, (45123,)),
    (1, 1, 0, 1, 65, 1, 1700000010, (100000,)),
    (1, 1, 0, 1, 65, 0, 1700000010, (100000,)),
    (0, 15, 0, 3, 1284, 0, 1513939871, (1, 2, 3, 1)),
    (0, 15, 0, 3, 1284, 2, 1513939871, (1, 2, 3, 1)),
    (2, 0, 0, 4294967295, 123456789, 15, 1, (-1999999999,)),
    (2, 0, 0, 0, 5, 9, 0, (1000001,)),
    (0, 0, 3, 3, 1285, 2, 1513939901, (2500, 130, 401, 0)),
    (0, 9, 255, 3, 1286, 2, 1513939931, (2501, 131, 402, 1)),
    (0, 9, 255, 3, 1286, 1, 1513939931, (2501, 131, 402, 1)),
    (1, 0, 1, 1, 66, 0, 1700000020, (0,)),
    (3, 2**23 + 1, 17, 0, 7, 0, 1700000000, tuple(range(-12, 12))),
    (3, 2**23 + 1, 17, 0, 7, 1, 1700000000, tuple(range(-12, 12))),
    (3, 2**23 + 1, 17, 0, 7, 2, 1700000000, tuple(range(-12, 12))),
]


# v2: records on either side of a re-deal (04:00 local time), in three time zones
REDEAL = 1700000000 - (1700000000 + 0 - DAY_START_S) % DAY_S + DAY_S  # a day's first second
V2_INPUTS = [
    # spec index, tz, stand-in mask, drop report, boot, seq, trk, ts offset from REDEAL - tz
    *[(0, tz, 0, 0, 3, 500 + n, trk, off) for tz in (0, 3600, -18000)
      for n, off in enumerate((-30, -1, 0, 30)) for trk in range(4)],
    (1, 19800, 1, 2, 1, 64, 0, -10),
    (1, 19800, 1, 2, 1, 64, 1, -10),
    (1, 19800, 1, 0, 1, 65, 0, 10),
    (1, 19800, 1, 0, 1, 65, 1, 10),
    (2, 50400, 0, 0, 0, 5, 9, 0),
    (3, -43200, 2**23 + 1, 17, 0, 7, 2, 5),
]  # fmt: skip
DAY_CASES = [
    (ts, tz)
    for tz in (0, 3600, -18000, 19800, 50400, -43200)
    for ts in (0, 14399, 14400, 86399, 1700000000, REDEAL - tz - 1, REDEAL - tz, 4294967295)
]


def _dump(doc):
    """JSON with one vector per line: small diffs when the vectors change on purpose."""
    lines = ["{"]
    for n, (key, value) in enumerate(doc.items()):
        comma = "," if n < len(doc) - 1 else ""
        if isinstance(value, list):
            items = ",\n".join("  " + json.dumps(v) for v in value)
            lines.append(f' "{key}": [\n{items}\n ]{comma}')
        else:
            lines.append(f' "{key}": {json.dumps(value)}{comma}')
    return "\n".join(lines) + "\n}\n"


def _spec_json(spec):
    doc = spec.to_json()
    if spec.version == 1:  # as v1.json has always had it
        del doc["version"], doc["tz"]
    return doc


def _records(keys, rows):
    out = []
    for spec, mask, drops, boot, seq, trk, ts, values in rows:
        real = trk == keys.real_track(spec, ts=ts)
        mask, drops = (mask, drops) if real else (0, 0)
        hidden = hidden_field(mask, drops)
        canon = CanonicalPacker(spec).pack(hidden, spec.epoch, boot, seq, trk, ts, values)
        line = encode_line(
            spec, keys, boot=boot, seq=seq, trk=trk, ts=ts, values=values, mask=mask, drops=drops
        )
        out.append(
            {
                "spec": _spec_json(spec),
                "mask": mask,
                "drops": drops,
                "hidden": hidden,
                "boot": boot,
                "seq": seq,
                "trk": trk,
                "ts": ts,
                "values": list(values),
                "real": real,
                "canonical": canon.hex(),
                "line": line.decode(),
            }
        )
    return out


def main():
    keys = HomeKeys(HOME_KEY)
    labels = {"real": LABEL_REAL, "fake": LABEL_FAKE, "track": LABEL_TRACK, "decoy": LABEL_DECOY}
    subkeys = {name: subkey(HOME_KEY, label).hex() for name, label in labels.items()}
    devs, eps, ks = (
        ("room1", "kitchen-2", "x", "a" * 32),
        (0, 1, 2, 4294967295),
        (2, 3, 4, 8, 9, 10, 16),
    )
    tracks = [
        {
            "dev": dev,
            "ep": ep,
            "k": k,
            "placement": placement(keys.track, dev, ep, k),
            "real_household": real_household(keys.track, ep, k),
            "real_track": real_track(keys.track, dev, ep, k),
        }
        for dev in devs
        for ep in eps
        for k in ks
    ]
    v1 = [(SPECS[i], *rest) for i, *rest in INPUTS]
    (OUT / "v1.json").write_text(
        _dump(
            {
                "about": "veil protocol v1 test vectors; see docs/protocol.md. "
                "Home key = bytes 0..31.",
                "home_key": HOME_KEY.hex(),
                "subkeys": subkeys,
                "tracks": tracks,
                "records": _records(keys, v1),
            }
        )
    )
    days = sorted(
        {household_day(REDEAL - tz + off, tz) for tz in (0, 3600, -18000) for off in (-1, 0)}
    )
    days += [0, 4294967295]
    tracks2 = [
        {
            "dev": dev,
            "ep": ep,
            "k": k,
            "day": day,
            "placement": placement(keys.track, dev, ep, k),
            "real_household": real_household(keys.track, ep, k, day),
            "real_track": real_track(keys.track, dev, ep, k, day),
        }
        for dev in devs[:2]
        for ep in eps
        for k in (2, 4, 9, 16)
        for day in days
    ]
    v2 = []
    for i, tz, mask, drops, boot, seq, trk, off in V2_INPUTS:
        spec = replace(SPECS[i], version=2, tz=tz)
        values = V2_VALUES[i]
        v2.append((spec, mask, drops, boot, seq, trk, REDEAL - tz + off, values))
    (OUT / "v2.json").write_text(
        _dump(
            {
                "about": "veil protocol v2 test vectors (roles re-dealt each household day); "
                "see docs/protocol.md. Home key = bytes 0..31.",
                "home_key": HOME_KEY.hex(),
                "subkeys": subkeys,
                "days": [
                    {"ts": ts, "tz": tz, "day": household_day(ts, tz)} for ts, tz in DAY_CASES
                ],
                "tracks": tracks2,
                "records": _records(keys, v2),
            }
        )
    )
    print(f"wrote {OUT}/v1.json ({len(tracks)} track, {len(v1)} record vectors)")
    print(f"wrote {OUT}/v2.json ({len(tracks2)} track, {len(v2)} record vectors)")


V2_VALUES = [(2494, 121, 390, 0), (45123,), (1000001,), tuple(range(-12, 12))]


if __name__ == "__main__":
    main()
