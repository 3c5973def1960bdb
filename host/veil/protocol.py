"""Wire protocol (versions 1 and 2) on the laptop: keys, track roles, record shape, canonical
bytes, tags.

docs/protocol.md is the definition; firmware/veil/proto.py is the device's implementation and
tests/vectors/v1.json and v2.json hold the vectors both must reproduce.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

from .errors import VeilError

VERSION = 2  # the newest; a device's spec says which one it speaks
VERSIONS = (1, 2)
TAG_LEN = 16
MIN_K, MAX_K = 2, 16
MAX_SEQ = 2**48 - 1
MAX_U32 = 2**32 - 1
MAX_CHANNELS = 24  # the stand-in mask is bits 0-23 of the hidden field (section 4.1)
MAX_DROPS = 255  # the drop report is bits 24-31
MAX_DEC = 6
RESERVE = 64  # R: a reboot skips at most this many sequence numbers (section 5)
DAY_S = 86400
DAY_START_S = 4 * 3600  # v2 household days start at 04:00 local time (section 3)
TZ_RANGE = (-12 * 3600, 14 * 3600)  # UTC-12 .. UTC+14
FIELDS = ("v", "dev", "ep", "boot", "seq", "trk", "ts", "val", "tag")
NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
_HEX_RE = re.compile(r"[0-9a-f]{32}\Z")
_I32 = (-(2**31), 2**31 - 1)
_RANGES = (("ep", MAX_U32), ("boot", MAX_U32), ("seq", MAX_SEQ), ("ts", MAX_U32))

LABEL_REAL = b"veil/v1/tag/real"
LABEL_FAKE = b"veil/v1/tag/fake"
LABEL_TRACK = b"veil/v1/track"
LABEL_DECOY = b"veil/v1/decoy"


class MalformedRecord(VeilError):
    """A message that is not a record; the text says why (never echoing secrets)."""


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    return hmac.digest(key, msg, "sha256")


def subkey(home_key: bytes, label: bytes) -> bytes:
    """One HKDF-Expand block: HMAC(K, label || 0x01)."""
    return hmac_sha256(home_key, label + b"\x01")


@dataclass(frozen=True)
class Channel:
    name: str
    dec: int
    lo: int
    hi: int

    def to_json(self) -> dict:
        return {"name": self.name, "dec": self.dec, "lo": self.lo, "hi": self.hi}


@dataclass(frozen=True)
class DeviceSpec:
    """What the owner must know of a device to decode it (protocol section 7)."""

    device: str
    k: int
    epoch: int
    channels: tuple[Channel, ...]
    version: int = 1  # the protocol version its records carry
    tz: int = 0  # the home's local time is UTC + tz seconds (v2 household days, section 3)

    def __post_init__(self):
        if not NAME_RE.match(self.device):
            raise VeilError(f"bad device id {self.device!r}: use 1-32 of A-Z a-z 0-9 _ -")
        if not MIN_K <= self.k <= MAX_K:
            raise VeilError(f"k must be between {MIN_K} and {MAX_K}, not {self.k}")
        if not 0 <= self.epoch <= MAX_U32:
            raise VeilError(f"epoch must be 0..{MAX_U32}, not {self.epoch}")
        if self.version not in VERSIONS:
            raise VeilError(f"protocol version must be one of {VERSIONS}, not {self.version}")
        if type(self.tz) is not int or not TZ_RANGE[0] <= self.tz <= TZ_RANGE[1]:
            raise VeilError(
                f"time-zone offset must be whole seconds in {TZ_RANGE[0]}..{TZ_RANGE[1]}, "
                f"not {self.tz}"
            )
        if not 1 <= len(self.channels) <= MAX_CHANNELS:
            raise VeilError(f"a device needs 1-{MAX_CHANNELS} channels")
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise VeilError(f"device {self.device}: duplicate channel names")
        for c in self.channels:
            if not NAME_RE.match(c.name):
                raise VeilError(f"bad channel name {c.name!r}: use 1-32 of A-Z a-z 0-9 _ -")
            if not 0 <= c.dec <= MAX_DEC:
                raise VeilError(f"channel {c.name}: decimals must be 0..{MAX_DEC}")
            if not _I32[0] <= c.lo <= c.hi <= _I32[1]:
                raise VeilError(f"channel {c.name}: need lo <= hi within signed 32-bit")

    @classmethod
    def from_json(cls, d: dict) -> DeviceSpec:
        try:
            return cls(
                device=d["device"],
                k=int(d["k"]),
                epoch=int(d.get("epoch", 0)),
                channels=tuple(
                    Channel(c["name"], int(c["dec"]), int(c["lo"]), int(c["hi"]))
                    for c in d["channels"]
                ),
                version=int(d.get("version", 1)),
                tz=int(d.get("tz", 0)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise VeilError(f"bad device spec: missing or invalid {e}") from None

    def to_json(self) -> dict:
        return {
            "device": self.device,
            "k": self.k,
            "epoch": self.epoch,
            "version": self.version,
            "tz": self.tz,
            "channels": [c.to_json() for c in self.channels],
        }


def _word(block: bytes, n: int) -> int:
    return int.from_bytes(block[4 * n : 4 * n + 4], "big")


def placement(k_track: bytes, dev: str, ep: int, k: int) -> list[int]:
    """Keyed permutation: p[t] is the household shown on track t (protocol section 3)."""
    d = dev.encode()
    prefix = b"place" + struct.pack(">IB", ep, len(d)) + d
    stream = b"".join(hmac_sha256(k_track, prefix + bytes((c,))) for c in range((k + 6) // 8))
    p = list(range(k))
    for n in range(k - 1):
        i = k - 1 - n
        j = _word(stream, n) % (i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def real_household(k_track: bytes, ep: int, k: int, day: int | None = None) -> int:
    """The household that is real: for the whole epoch in v1 (`day` None), for one household
    day in v2 (section 3)."""
    msg = b"real" + struct.pack(">I", ep) + (b"" if day is None else struct.pack(">I", day % 2**32))
    return _word(hmac_sha256(k_track, msg), 0) % k


def real_track(k_track: bytes, dev: str, ep: int, k: int, day: int | None = None) -> int:
    return placement(k_track, dev, ep, k).index(real_household(k_track, ep, k, day))


def household_day(ts: int, tz: int) -> int:
    """The v2 household day of Unix time `ts`: days start at 04:00 local time (section 3)."""
    return (ts + tz - DAY_START_S) // DAY_S


@dataclass(frozen=True)
class Record:
    """A record as carried on the wire; `val` maps channel name to the JSON number."""

    dev: str
    ep: int
    boot: int
    seq: int
    trk: int
    ts: int
    val: dict
    tag: str
    v: int = 1

    @property
    def slot(self) -> tuple:
        return (self.dev, self.ep, self.boot, self.seq, self.trk)


_good_names: set[str] = set()  # device and channel names already checked (bounded)


def _name_ok(name) -> bool:
    """NAME_RE, remembered: ingest sees the same few names in every message."""
    if type(name) is not str:
        return False
    if name in _good_names:
        return True
    if not NAME_RE.match(name):
        return False
    if len(_good_names) < 4096:
        _good_names.add(name)
    return True


def check_shape(obj) -> Record:
    """Validate a decoded JSON message as a v1 record without any key or config."""
    if type(obj) is not dict:
        raise MalformedRecord("not a JSON object")
    if tuple(obj) != FIELDS and set(obj) != set(FIELDS):  # the first test is the fast path
        keys = set(obj)
        missing = sorted(set(FIELDS) - keys)
        extra = sorted(keys - set(FIELDS))
        what = f"missing {', '.join(missing)}" if missing else ""
        what += ("; " if what and extra else "") + (f"unknown {len(extra)} key(s)" if extra else "")
        raise MalformedRecord(f"wrong keys: {what}")
    v = obj["v"]
    if type(v) is not int or v not in VERSIONS:  # type(): JSON's true is a bool, not a number
        raise MalformedRecord(f"unsupported protocol version {str(v)[:16]!r}")
    dev = obj["dev"]
    if not _name_ok(dev):
        raise MalformedRecord("bad device id")
    for key, top in _RANGES:
        x = obj[key]
        if type(x) is not int or not 0 <= x <= top:
            raise MalformedRecord(f"{key} must be an integer 0..{top}")
    trk = obj["trk"]
    if type(trk) is not int or not 0 <= trk < MAX_K:
        raise MalformedRecord(f"trk must be an integer 0..{MAX_K - 1}")
    val = obj["val"]
    if type(val) is not dict or not 1 <= len(val) <= MAX_CHANNELS:
        raise MalformedRecord(f"val must be an object of 1-{MAX_CHANNELS} channels")
    for name, x in val.items():
        if not _name_ok(name):
            raise MalformedRecord("bad channel name")
        t = type(x)
        if (t is not int and t is not float) or not -(2**31) < x < 2**31:
            raise MalformedRecord(f"value of {name} is not a number in range")
    tag = obj["tag"]
    if type(tag) is not str or not _HEX_RE.match(tag):
        raise MalformedRecord("tag must be 32 lowercase hex digits")
    return Record(dev, obj["ep"], obj["boot"], obj["seq"], trk, obj["ts"], val, tag, v)


def _read_values(val: dict, names: tuple, scales: tuple, dev: str) -> tuple[int, ...]:
    if len(val) != len(names):
        raise MalformedRecord(f"{len(val)} values, device {dev} has {len(names)}")
    try:
        xs = [val[name] for name in names]
    except KeyError as e:
        raise MalformedRecord(f"channel {e.args[0]} missing") from None
    return tuple(
        [x if s == 1 and type(x) is int else round(x * s) for x, s in zip(xs, scales, strict=True)]
    )


def scaled_values(rec: Record, spec: DeviceSpec) -> tuple[int, ...]:
    """The integers n of a record's values, in the device's channel order."""
    names = tuple(c.name for c in spec.channels)
    return _read_values(rec.val, names, tuple(10**c.dec for c in spec.channels), spec.device)


class CanonicalPacker:
    """Builds canonical bytes (protocol section 4.1) for one device with one precompiled
    struct; the constant parts (device, channel names and decimals) are packed as given."""

    def __init__(self, spec: DeviceSpec):
        d = spec.device.encode()
        chans = [bytes((len(c.name),)) + c.name.encode() + bytes((c.dec,)) for c in spec.channels]
        self._struct = struct.Struct(
            f">5sI{len(d) + 1}sIIQBBI1s" + "".join(f"{len(p)}si" for p in chans)
        )
        # argument slots: 1 hidden, 3-6 and 8 the record's fields, 11, 13, ... the values
        self._heads = {v: b"veil" + bytes((v,)) for v in VERSIONS}
        self._version = spec.version
        self._args = [self._heads[spec.version], 0, bytes((len(d),)) + d, 0, 0, 0, 0, spec.k]
        self._args += [0, bytes((len(chans),))]
        for prefix in chans:
            self._args += [prefix, 0]
        self._names = tuple(c.name for c in spec.channels)
        self._scales = tuple(10**c.dec for c in spec.channels)
        self._dev = spec.device

    def __deepcopy__(self, memo) -> CanonicalPacker:
        """Copies share the packer: it holds nothing between calls (a live decoder's snapshot
        deep-copies its packers, and a compiled struct cannot be copied)."""
        return self

    def values(self, rec: Record) -> tuple[int, ...]:
        """scaled_values() of a record of this device, with the scales worked out once."""
        return _read_values(rec.val, self._names, self._scales, self._dev)

    def pack(self, hidden, ep, boot, seq, trk, ts, values, v=None) -> bytes:
        """C(hidden) of a record; `v` is the record's protocol version (the spec's if None).
        A value beyond signed 32 bits is no record of this device: MalformedRecord."""
        a = self._args
        a[0] = self._heads[self._version if v is None else v]
        a[1], a[3], a[4], a[5], a[6], a[8] = hidden, ep, boot, seq, trk, ts
        a[11::2] = values
        try:
            return self._struct.pack(*a)
        except struct.error:
            raise MalformedRecord(f"a value of device {self._dev} is beyond 32 bits") from None


def hidden_field(mask: int = 0, drops: int = 0) -> int:
    """The 32 hidden bits of a real record: drop report and stand-in mask (section 4.1)."""
    if not 0 <= mask < 1 << MAX_CHANNELS or not 0 <= drops <= MAX_DROPS:
        raise ValueError("stand-in mask or drop report out of range")
    return drops << MAX_CHANNELS | mask


def split_hidden(hidden: int) -> tuple[int, int]:
    """(stand-in mask, drop report) of a hidden field."""
    return hidden & ((1 << MAX_CHANNELS) - 1), hidden >> MAX_CHANNELS


def make_tag(key: bytes, packer: CanonicalPacker, hidden: int, *fields) -> bytes:
    """The 16-byte tag of a record (protocol section 4.2); fields as for `pack` minus the
    hidden field."""
    h0 = hmac_sha256(key, packer.pack(0, *fields))
    if not hidden:
        return h0[:TAG_LEN]
    head = hmac_sha256(key, packer.pack(hidden, *fields))[:12]
    return head + (int.from_bytes(h0[12:16], "big") ^ hidden).to_bytes(4, "big")


def check_tag(key: bytes, packer: CanonicalPacker, tag: bytes, *fields) -> int | None:
    """The hidden field if `tag` is valid for the record under `key`, else None."""
    h0 = hmac_sha256(key, packer.pack(0, *fields))
    if hmac.compare_digest(h0[:TAG_LEN], tag):
        return 0
    hidden = int.from_bytes(h0[12:16], "big") ^ int.from_bytes(tag[12:16], "big")
    head = hmac_sha256(key, packer.pack(hidden, *fields))[:12]
    return hidden if hmac.compare_digest(head, tag[:12]) else None


def format_value(n: int, dec: int) -> str:
    """The JSON text of integer n with `dec` decimals (2494, 2 -> '24.94')."""
    if not dec:
        return str(n)
    sign = "-" if n < 0 else ""
    q, r = divmod(abs(n), 10**dec)
    return f"{sign}{q}.{r:0{dec}d}"


def record_size(spec: DeviceSpec) -> int:
    """Length L of every encoded record of this device, newline excluded (section 4.3)."""
    widest = ",".join(
        f'"{c.name}":' + "9" * max(len(format_value(c.lo, c.dec)), len(format_value(c.hi, c.dec)))
        for c in spec.channels
    )
    longest = (
        f'{{"v":1,"dev":"{spec.device}","ep":{"9" * 10},"boot":{"9" * 10},"seq":{"9" * 15},'
        f'"trk":99,"ts":{"9" * 10},"val":{{{widest}}},"tag":"{"0" * 2 * TAG_LEN}"}}'
    )
    return len(longest)


def encode_line(
    spec: DeviceSpec, keys: HomeKeys, *, boot, seq, trk, ts, values, mask=0, drops=0, real=None
) -> bytes:
    """One record as the device would publish it (reference encoder for vectors and tests)."""
    if real is None:
        real = trk == keys.real_track(spec, ts=ts)
    fields = (spec.epoch, boot, seq, trk, ts, values)
    hidden = hidden_field(mask, drops)
    tag = make_tag(keys.real if real else keys.fake, CanonicalPacker(spec), hidden, *fields).hex()
    val = ",".join(
        f'"{c.name}":{format_value(n, c.dec)}' for c, n in zip(spec.channels, values, strict=True)
    )
    body = (
        f'{{"v":{spec.version},"dev":"{spec.device}","ep":{spec.epoch},"boot":{boot},"seq":{seq},'
        f'"trk":{trk},"ts":{ts},"val":{{{val}}},"tag":"{tag}"'
    )
    return (body.ljust(record_size(spec) - 1) + "}").encode()


class HomeKeys:
    """The subkeys an owner needs, derived once from the home key (never stored or shown)."""

    def __init__(self, home_key: bytes):
        if len(home_key) != 32:
            raise VeilError("a home key is 32 bytes")
        self.real = subkey(home_key, LABEL_REAL)
        self.fake = subkey(home_key, LABEL_FAKE)
        self.track = subkey(home_key, LABEL_TRACK)
        self._places: dict[tuple, list[int]] = {}
        self._houses: dict[tuple, int] = {}

    def real_track(
        self,
        spec: DeviceSpec,
        ep: int | None = None,
        *,
        ts: int | None = None,
        v: int | None = None,
    ) -> int:
        """The real track of `spec`'s records of epoch `ep` (the spec's if None) and version
        `v` (the spec's if None); a v2 record's depends on its time `ts` too (section 3)."""
        ep = spec.epoch if ep is None else ep
        day = None
        if (spec.version if v is None else v) >= 2:
            if ts is None:
                raise ValueError("a v2 record's real track depends on its time")
            day = household_day(ts, spec.tz)
        place = self._places.get((spec.device, ep, spec.k))
        if place is None:
            place = self._places[(spec.device, ep, spec.k)] = placement(
                self.track, spec.device, ep, spec.k
            )
        house = self._houses.get((ep, spec.k, day))
        if house is None:
            house = self._houses[(ep, spec.k, day)] = real_household(self.track, ep, spec.k, day)
        return place.index(house)

    def __repr__(self) -> str:
        return "HomeKeys(<secret>)"


def fingerprint(home_key: bytes) -> str:
    """A short public name for a key (safe to show): tells two keys apart, reveals nothing."""
    return hashlib.sha256(b"veil/v1/fingerprint" + home_key).hexdigest()[:12]
