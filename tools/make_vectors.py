"""Regenerate tests/vectors/v1.json from the host implementation of protocol v1.

Run only when the protocol changes on purpose: the vectors pin the format, and the test suite
checks both the firmware (under MicroPython) and the host (under CPython) against them.
"""

import json
from pathlib import Path

from veil.protocol import (
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
    placement,
    real_household,
    real_track,
    subkey,
)

OUT = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "v1.json"
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


def main():
    keys = HomeKeys(HOME_KEY)
    labels = {"real": LABEL_REAL, "fake": LABEL_FAKE, "track": LABEL_TRACK, "decoy": LABEL_DECOY}
    tracks = []
    for dev in ("room1", "kitchen-2", "x", "a" * 32):
        for ep in (0, 1, 2, 4294967295):
            for k in (2, 3, 4, 8, 9, 10, 16):
                tracks.append(
                    {
                        "dev": dev,
                        "ep": ep,
                        "k": k,
                        "placement": placement(keys.track, dev, ep, k),
                        "real_household": real_household(keys.track, ep, k),
                        "real_track": real_track(keys.track, dev, ep, k),
                    }
                )
    records = []
    for i, mask, drops, boot, seq, trk, ts, values in INPUTS:
        spec = SPECS[i]
        real = trk == keys.real_track(spec)
        mask, drops = (mask, drops) if real else (0, 0)
        hidden = hidden_field(mask, drops)
        canon = CanonicalPacker(spec).pack(hidden, spec.epoch, boot, seq, trk, ts, values)
        line = encode_line(
            spec, keys, boot=boot, seq=seq, trk=trk, ts=ts, values=values, mask=mask, drops=drops
        )
        records.append(
            {
                "spec": spec.to_json(),
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
    doc = {
        "about": "veil protocol v1 test vectors; see docs/protocol.md. Home key = bytes 0..31.",
        "home_key": HOME_KEY.hex(),
        "subkeys": {name: subkey(HOME_KEY, label).hex() for name, label in labels.items()},
        "tracks": tracks,
        "records": records,
    }
    OUT.write_text(_dump(doc))
    print(f"wrote {OUT} ({len(tracks)} track vectors, {len(records)} record vectors)")


if __name__ == "__main__":
    main()
