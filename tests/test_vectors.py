"""The protocol vectors (v1 and v2): the firmware (under MicroPython) and the host (under
CPython) both reproduce them, and the spec's text derives them too.

`Spec` below is a second, independent implementation of docs/protocol.md written from its
text alone, without veil.protocol: its subkeys, placement, real household, household day,
canonical bytes, tag and record length L must agree with every vector, so the vectors (made by
tools/make_vectors.py from the host code) cannot drift from what the spec says."""

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
    household_day,
    placement,
    real_household,
    real_track,
    record_size,
    split_hidden,
    subkey,
)

from conftest import REPO, VECTORS, micropython

VEC = {v: json.loads(path.read_text()) for v, path in VECTORS.items()}
HOME_KEY = bytes.fromhex(VEC["v1"]["home_key"])
LABELS = {"real": LABEL_REAL, "fake": LABEL_FAKE, "track": LABEL_TRACK, "decoy": LABEL_DECOY}


class Spec:
    """docs/protocol.md, sections 2-4, read literally."""

    def __init__(self, home_key: bytes):
        self.sub = {
            name: self.hmac(home_key, f"veil/v1/{label}".encode() + b"\x01")
            for name, label in (
                ("real", "tag/real"),
                ("fake", "tag/fake"),
                ("track", "track"),
                ("decoy", "decoy"),
            )
        }

    @staticmethod
    def hmac(key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, hashlib.sha256).digest()

    @staticmethod
    def u32(x: int) -> bytes:
        return x.to_bytes(4, "big")

    def placement(self, dev: str, ep: int, k: int) -> list[int]:
        d = dev.encode()
        prefix = b"place" + self.u32(ep) + bytes([len(d)]) + d
        stream = self.hmac(self.sub["track"], prefix + b"\x00")
        stream += self.hmac(self.sub["track"], prefix + b"\x01")
        p = list(range(k))
        for n in range(k - 1):
            i = k - 1 - n
            j = int.from_bytes(stream[4 * n : 4 * n + 4], "big") % (i + 1)
            p[i], p[j] = p[j], p[i]
        return p

    def real_household(self, ep: int, k: int, day: int | None = None) -> int:
        msg = b"real" + self.u32(ep) + (b"" if day is None else self.u32(day % 2**32))
        return int.from_bytes(self.hmac(self.sub["track"], msg)[:4], "big") % k

    @staticmethod
    def day(ts: int, tz: int) -> int:
        return (ts + tz - 14400) // 86400

    def real_track(self, s: dict, ts: int) -> int:
        day = self.day(ts, s["tz"]) if s.get("version", 1) == 2 else None
        return self.placement(s["device"], s["epoch"], s["k"]).index(
            self.real_household(s["epoch"], s["k"], day)
        )

    def canonical(self, s: dict, hidden: int, boot, seq, trk, ts, values) -> bytes:
        d = s["device"].encode()
        c = b"veil" + bytes([s.get("version", 1)]) + self.u32(hidden) + bytes([len(d)]) + d
        c += struct.pack(">IIQBBI", s["epoch"], boot, seq, trk, s["k"], ts)
        c += bytes([len(s["channels"])])
        for ch, n in zip(s["channels"], values, strict=True):
            c += bytes([len(ch["name"])]) + ch["name"].encode() + bytes([ch["dec"]])
            c += struct.pack(">i", n)
        return c

    def tag(self, s: dict, real: bool, hidden: int, *fields) -> str:
        key = self.sub["real" if real else "fake"]
        h0 = self.hmac(key, self.canonical(s, 0, *fields))
        if not hidden:
            return h0[:16].hex()
        head = self.hmac(key, self.canonical(s, hidden, *fields))[:12]
        return (head + self.u32(int.from_bytes(h0[12:16], "big") ^ hidden)).hex()

    @staticmethod
    def number(n: int, dec: int) -> str:
        if not dec:
            return str(n)
        q, r = divmod(abs(n), 10**dec)
        return ("-" if n < 0 else "") + f"{q}.{r:0{dec}d}"

    def length(self, s: dict) -> int:
        """L: the record with ep, boot and ts at 10 digits, seq at 15, trk at 2 and each value
        at the wider of its bounds (section 4.3)."""
        widest = ",".join(
            f'"{c["name"]}":'
            + "9" * max(len(self.number(c["lo"], c["dec"])), len(self.number(c["hi"], c["dec"])))
            for c in s["channels"]
        )
        return len(
            f'{{"v":{s.get("version", 1)},"dev":"{s["device"]}","ep":{"9" * 10},'
            f'"boot":{"9" * 10},"seq":{"9" * 15},"trk":99,"ts":{"9" * 10},'
            f'"val":{{{widest}}},"tag":"{"0" * 32}"}}'
        )


SPEC = Spec(HOME_KEY)
TRACKS = [(v, t) for v, doc in VEC.items() for t in doc["tracks"]]
RECORDS = [(v, r) for v, doc in VEC.items() for r in doc["records"]]


def _id(vt):
    v, t = vt
    return f"{v}-{t.get('spec', t).get('device', t.get('dev'))}-{t.get('seq', t.get('k'))}"


@pytest.mark.parametrize("version", sorted(VEC))
def test_firmware_reproduces_every_vector_under_micropython(version):
    vec = VEC[version]
    p = micropython(REPO / "tests" / "mpy" / "check_vectors.py", str(VECTORS[version]))
    days = len(vec.get("days", ()))
    expected = 3 + 4 + days + 3 * len(vec["tracks"]) + 4 * len(vec["records"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1] == f"checked {expected}"


@pytest.mark.parametrize("version", sorted(VEC))
def test_subkeys_follow_hkdf_expand(version):
    for name, label in LABELS.items():
        assert VEC[version]["subkeys"][name] == SPEC.sub[name].hex()
        assert subkey(HOME_KEY, label) == SPEC.sub[name]


@pytest.mark.parametrize("vt", TRACKS, ids=_id)
def test_track_roles_follow_the_spec(vt):
    _v, t = vt
    k_track = SPEC.sub["track"]
    day = t.get("day")
    assert SPEC.placement(t["dev"], t["ep"], t["k"]) == t["placement"]
    assert SPEC.real_household(t["ep"], t["k"], day) == t["real_household"]
    assert t["placement"][t["real_track"]] == t["real_household"]
    assert placement(k_track, t["dev"], t["ep"], t["k"]) == t["placement"]
    assert real_household(k_track, t["ep"], t["k"], day) == t["real_household"]
    assert real_track(k_track, t["dev"], t["ep"], t["k"], day) == t["real_track"]


def test_household_days_follow_the_spec():
    days = VEC["v2"]["days"]
    assert {d["day"] for d in days} >= {-1, 0}  # days before the first 04:00 exist too
    for d in days:
        assert SPEC.day(d["ts"], d["tz"]) == household_day(d["ts"], d["tz"]) == d["day"]


def test_v2_vectors_cross_a_redeal():
    """Each v2 device has records on both sides of a re-deal, whose real tracks differ for at
    least one time zone (the same re-deal moment in local time)."""
    by_zone = {}
    for r in VEC["v2"]["records"]:
        s = r["spec"]
        if r["real"]:
            by_zone.setdefault((s["device"], s["tz"]), set()).add(
                (SPEC.day(r["ts"], s["tz"]), r["trk"])
            )
    assert all(len({d for d, _ in v}) == 2 for v in by_zone.values() if len(v) > 1)
    assert any(len({t for _, t in v}) == 2 for v in by_zone.values())


@pytest.mark.parametrize("vr", RECORDS, ids=_id)
def test_records_follow_the_spec(vr):
    _v, r = vr
    s = r["spec"]
    fields = (r["boot"], r["seq"], r["trk"], r["ts"], r["values"])
    assert (SPEC.real_track(s, r["ts"]) == r["trk"]) == r["real"]
    assert SPEC.canonical(s, r["hidden"], *fields).hex() == r["canonical"]
    assert json.loads(r["line"])["tag"] == SPEC.tag(s, r["real"], r["hidden"], *fields)
    assert len(r["line"]) == SPEC.length(s)
    assert r["hidden"] == r["drops"] << 24 | r["mask"]
    got = json.loads(r["line"])
    assert list(got) == ["v", "dev", "ep", "boot", "seq", "trk", "ts", "val", "tag"]
    assert got["v"] == s.get("version", 1)
    assert r["line"].endswith("}") and r["line"][:-1].rstrip().endswith('"')  # spaces, then }


@pytest.mark.parametrize("vr", RECORDS, ids=_id)
def test_host_reproduces_the_records(vr):
    _v, r = vr
    spec = DeviceSpec.from_json(r["spec"])
    keys = HomeKeys(HOME_KEY)
    fields = (spec.epoch, r["boot"], r["seq"], r["trk"], r["ts"], tuple(r["values"]))
    packer = CanonicalPacker(spec)
    assert r["hidden"] == hidden_field(r["mask"], r["drops"])
    assert split_hidden(r["hidden"]) == (r["mask"], r["drops"])
    assert packer.pack(r["hidden"], *fields).hex() == r["canonical"]
    assert (keys.real_track(spec, ts=r["ts"]) == r["trk"]) == r["real"]
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


@pytest.mark.parametrize("vr", [x for x in RECORDS if x[1]["hidden"]], ids=_id)
def test_hidden_field_reads_back_only_with_the_key_and_is_bound(vr):
    """Section 4.2: the hidden field (stand-in mask, drop report) reads back only with the key,
    and changing it breaks the tag."""
    _v, r = vr
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


@pytest.mark.parametrize("version", (1, 2))
def test_every_record_of_a_device_has_the_same_length(version):
    spec = DeviceSpec.from_json(dict(VEC["v1"]["records"][0]["spec"], version=version))
    keys = HomeKeys(HOME_KEY)
    lengths = set()
    lows = tuple(c.lo for c in spec.channels)
    highs = tuple(c.hi for c in spec.channels)
    for values in (lows, highs, (0,) * len(lows)):
        for seq, ts in ((0, 0), (2**48 - 1, 2**32 - 1)):
            line = encode_line(spec, keys, boot=0, seq=seq, trk=1, ts=ts, values=values)
            lengths.add(len(line))
    assert lengths == {record_size(spec)} == {SPEC.length(spec.to_json())}
