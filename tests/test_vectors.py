"""Protocol v1: the firmware (under MicroPython) and the host (under CPython) both reproduce the
shared vectors, and the vectors match the layout written in docs/protocol.md."""

import hashlib
import hmac
import json
import struct

import pytest

from veil.protocol import (
    LABEL_DECOY,
    LABEL_FAKE,
    LABEL_REAL,
    LABEL_TRACK,
    CanonicalPacker,
    DeviceSpec,
    HomeKeys,
    check_tag,
    encode_line,
    hidden_field,
    placement,
    real_household,
    real_track,
    record_size,
    split_hidden,
    subkey,
)

from conftest import REPO, VECTORS, micropython

VEC = json.loads(VECTORS.read_text())
HOME_KEY = bytes.fromhex(VEC["home_key"])


def test_firmware_reproduces_every_vector_under_micropython():
    p = micropython(REPO / "tests" / "mpy" / "check_vectors.py", str(VECTORS))
    expected = 3 + 4 + 3 * len(VEC["tracks"]) + 4 * len(VEC["records"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1] == f"checked {expected}"


def test_host_subkeys_follow_hkdf_expand():
    labels = {"real": LABEL_REAL, "fake": LABEL_FAKE, "track": LABEL_TRACK, "decoy": LABEL_DECOY}
    for name, label in labels.items():
        want = hmac.new(HOME_KEY, label + b"\x01", hashlib.sha256).hexdigest()
        assert VEC["subkeys"][name] == want
        assert subkey(HOME_KEY, label).hex() == want


@pytest.mark.parametrize("t", VEC["tracks"], ids=lambda t: f"{t['dev']}-{t['ep']}-{t['k']}")
def test_host_track_roles(t):
    k_track = bytes.fromhex(VEC["subkeys"]["track"])
    p = placement(k_track, t["dev"], t["ep"], t["k"])
    assert p == t["placement"]
    assert sorted(p) == list(range(t["k"]))
    assert real_household(k_track, t["ep"], t["k"]) == t["real_household"]
    assert real_track(k_track, t["dev"], t["ep"], t["k"]) == t["real_track"]
    assert p[t["real_track"]] == t["real_household"]


@pytest.mark.parametrize("r", VEC["records"], ids=lambda r: f"{r['spec']['device']}-{r['seq']}")
def test_host_records(r):
    spec = DeviceSpec.from_json(r["spec"])
    keys = HomeKeys(HOME_KEY)
    fields = (spec.epoch, r["boot"], r["seq"], r["trk"], r["ts"], tuple(r["values"]))
    packer = CanonicalPacker(spec)
    assert r["hidden"] == hidden_field(r["mask"], r["drops"])
    assert split_hidden(r["hidden"]) == (r["mask"], r["drops"])
    assert packer.pack(r["hidden"], *fields).hex() == r["canonical"]
    line = encode_line(
        spec,
        keys,
        boot=r["boot"],
        seq=r["seq"],
        trk=r["trk"],
        ts=r["ts"],
        values=tuple(r["values"]),
        mask=r["mask"],
        drops=r["drops"],
    )
    assert line.decode() == r["line"]
    assert len(line) == record_size(spec)
    tag = bytes.fromhex(json.loads(line)["tag"])
    key = keys.real if r["real"] else keys.fake
    assert check_tag(key, packer, tag, *fields) == r["hidden"]
    other = keys.fake if r["real"] else keys.real
    assert check_tag(other, packer, tag, *fields) is None


def test_canonical_layout_matches_the_written_spec():
    """Section 4.1 of docs/protocol.md, spelled out field by field for one vector."""
    r = next(v for v in VEC["records"] if v["mask"] and v["drops"])
    s = r["spec"]
    dev = s["device"].encode()
    hidden = bytes([r["drops"]]) + r["mask"].to_bytes(3, "big")  # bits 24-31, then 0-23
    want = b"veil" + bytes([1]) + hidden + bytes([len(dev)]) + dev
    want += struct.pack(">IIQBBI", s["epoch"], r["boot"], r["seq"], r["trk"], s["k"], r["ts"])
    want += bytes([len(s["channels"])])
    for c, n in zip(s["channels"], r["values"], strict=True):
        want += bytes([len(c["name"])]) + c["name"].encode() + bytes([c["dec"]])
        want += struct.pack(">i", n)
    assert want.hex() == r["canonical"]


@pytest.mark.parametrize("r", [v for v in VEC["records"] if v["hidden"]], ids=lambda r: r["seq"])
def test_hidden_field_reads_back_only_with_the_key_and_is_bound(r):
    """Section 4.2: the hidden field (stand-in mask, drop report) reads back only with the key,
    and changing it breaks the tag."""
    spec = DeviceSpec.from_json(r["spec"])
    keys = HomeKeys(HOME_KEY)
    packer = CanonicalPacker(spec)
    fields = (spec.epoch, r["boot"], r["seq"], r["trk"], r["ts"], tuple(r["values"]))
    tag = bytearray.fromhex(json.loads(r["line"])["tag"])
    h0 = hmac.new(keys.real, packer.pack(0, *fields), hashlib.sha256).digest()
    assert int.from_bytes(tag[12:], "big") ^ int.from_bytes(h0[12:16], "big") == r["hidden"]
    for byte in (12, 15):  # the drop report's byte, then the mask's lowest
        bad = bytearray(tag)
        bad[byte] ^= 1
        assert check_tag(keys.real, packer, bytes(bad), *fields) is None


def test_every_record_of_a_device_has_the_same_length():
    spec = DeviceSpec.from_json(VEC["records"][0]["spec"])
    keys = HomeKeys(HOME_KEY)
    lengths = set()
    lows = tuple(c.lo for c in spec.channels)
    highs = tuple(c.hi for c in spec.channels)
    for values in (lows, highs, (0,) * len(lows)):
        for seq, ts in ((0, 0), (2**48 - 1, 2**32 - 1)):
            line = encode_line(spec, keys, boot=0, seq=seq, trk=1, ts=ts, values=values)
            lengths.add(len(line))
    assert lengths == {record_size(spec)}
