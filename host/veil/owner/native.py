"""The compiled parts of the owner's batch decode: checking the tags of a batch of records at
once (docs/protocol.md 4.2), and reading feed lines in the devices' own encoding (4.3).

The work is done by `native.c`, a small C library over OpenSSL's libcrypto that the wheel's
build compiles where a C compiler is present (hatch_build.py) and that is loaded here with
ctypes. Where it is absent or does not load, a Python loop over `hmac.digest` checks the tags
and msgspec reads every line (columns.py), with the same results, slower. `IMPLEMENTATION`
says which one runs (`veil decode` prints it)."""

from __future__ import annotations

import ctypes
import ctypes.util
import hmac
from pathlib import Path

import numpy as np

TAG_LEN = 16
_HEAD = 12  # tag bytes from HMAC(C(hidden)) when the hidden field is not 0
_HIDDEN_AT = 5  # offset of the hidden field in the canonical bytes
_ABI = 3  # veil_native_abi() of the C source this module expects
_LIB = Path(__file__).with_name("_native.so")


def _libcrypto() -> str | None:
    """The libcrypto Python's hashlib runs on (so both use one OpenSSL), else the system's."""
    import _hashlib  # noqa: F401  (loads libcrypto into this process)

    try:
        for line in Path("/proc/self/maps").read_text().splitlines():
            path = line.split()[-1]
            if "/libcrypto" in path:
                return path
    except OSError:
        pass
    return ctypes.util.find_library("crypto")


def _load() -> tuple[ctypes.CDLL | None, str]:
    if not _LIB.is_file():
        return None, "Python: msgspec and an hmac loop (native.c was not built: no C compiler)"
    crypto = _libcrypto()
    if crypto is None:
        return None, "Python: msgspec and an hmac loop (no libcrypto found for native.c)"
    try:
        ctypes.CDLL(crypto, mode=ctypes.RTLD_GLOBAL)
        lib = ctypes.CDLL(str(_LIB))
        if lib.veil_native_abi() != _ABI:
            return None, f"Python: msgspec and an hmac loop ({_LIB.name} is stale: reinstall veil)"
    except (OSError, AttributeError) as e:
        return None, f"Python: msgspec and an hmac loop (native.c does not load: {e})"
    p, n = ctypes.c_void_p, ctypes.c_size_t
    lib.veil_check_tags.argtypes = [p, n, n, p, p, ctypes.c_char_p, ctypes.c_char_p, p, p]
    lib.veil_hmac_loop.argtypes = [ctypes.c_char_p, p, n, n, p]
    lib.veil_parse_lines.argtypes = [ctypes.c_char_p, p, p, n, ctypes.c_char_p, n, n, *[p] * 6]
    lib.veil_parse_vals.argtypes = [ctypes.c_char_p, p, p, n, ctypes.c_char_p, n, p, n, p, p, p]
    return lib, f"C: native.c over OpenSSL ({Path(crypto).name})"


_lib, IMPLEMENTATION = _load()


def _ptr(a: np.ndarray) -> ctypes.c_void_p:
    return a.ctypes.data_as(ctypes.c_void_p)


def check_tags(
    canon: np.ndarray, tags: np.ndarray, real: np.ndarray, key_real: bytes, key_fake: bytes
) -> tuple[np.ndarray, np.ndarray]:
    """(ok, hidden) of n records: `canon` their canonical bytes C(0) as an (n, L) uint8 array,
    `tags` (n, 16) uint8, `real` whether each record's track is real (key_real) or fake."""
    canon = np.ascontiguousarray(canon, dtype=np.uint8)
    tags = np.ascontiguousarray(tags, dtype=np.uint8)
    real = np.ascontiguousarray(real, dtype=np.uint8)
    n, length = canon.shape
    ok = np.zeros(n, dtype=np.uint8)
    hidden = np.zeros(n, dtype=np.uint32)
    if _lib is not None:
        if n and _lib.veil_check_tags(
            _ptr(canon),
            length,
            n,
            _ptr(tags),
            _ptr(real),
            key_real,
            key_fake,
            _ptr(ok),
            _ptr(hidden),
        ):
            raise ValueError(f"canonical bytes of {length} bytes are out of range")
        return ok.astype(bool), hidden
    for i in range(n):
        got = _check_one(canon[i].tobytes(), tags[i].tobytes(), key_real if real[i] else key_fake)
        if got is not None:
            ok[i], hidden[i] = 1, got
    return ok.astype(bool), hidden


def _check_one(c: bytes, tag: bytes, key: bytes) -> int | None:
    """protocol.check_tag on bytes already built: the hidden field, or None."""
    h0 = hmac.digest(key, c, "sha256")
    if hmac.compare_digest(h0[:TAG_LEN], tag):
        return 0
    x = int.from_bytes(h0[_HEAD:TAG_LEN], "big") ^ int.from_bytes(tag[_HEAD:], "big")
    c = c[:_HIDDEN_AT] + x.to_bytes(4, "big") + c[_HIDDEN_AT + 4 :]
    return x if hmac.compare_digest(hmac.digest(key, c, "sha256")[:_HEAD], tag[:_HEAD]) else None


def openssl_hmac_loop(key: bytes, msgs: np.ndarray) -> np.ndarray | None:
    """OpenSSL's own HMAC-SHA256 of every row of `msgs` (an (n, L) uint8 array), the key set
    once, as (n, 16) tag prefixes: the decode benchmark's reference. None without the C
    library."""
    if _lib is None:
        return None
    msgs = np.ascontiguousarray(msgs, dtype=np.uint8)
    out = np.zeros((len(msgs), TAG_LEN), dtype=np.uint8)
    if _lib.veil_hmac_loop(key, _ptr(msgs), msgs.shape[1], len(msgs), _ptr(out)):
        raise RuntimeError("OpenSSL's HMAC failed")
    return out


PARSED, BLANK = 0, 1  # parse_lines' status of a line; any other: read it with msgspec


def schema(specs) -> bytes:
    """The devices and channels parse_lines reads, in the order of `specs`."""
    out = bytearray()
    for spec in specs:
        d = spec.device.encode()
        out += bytes((len(d),)) + d + bytes((len(spec.channels),))
        for c in spec.channels:
            out += bytes((len(c.name),)) + c.name.encode() + bytes((c.dec,))
    return bytes(out)


def parse_lines(buf: bytes, starts: np.ndarray, lens: np.ndarray, devices: bytes, width: int):
    """The lines of `buf` (at `starts`, `lens` bytes each) in the devices' own encoding, as
    (status, device index, fields (n, 6: v ep boot seq trk ts), values (n, width: the most
    channels of a device), fit, tags (n, 16)); None without the C library. Rows of lines not
    PARSED hold nothing."""
    if _lib is None:
        return None
    n = len(starts)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    lens = np.ascontiguousarray(lens, dtype=np.int64)
    status = np.empty(n, dtype=np.int8)
    dev = np.empty(n, dtype=np.int16)
    fields = np.empty((n, 6), dtype=np.int64)
    values = np.empty((n, width), dtype=np.int64)
    fit = np.empty(n, dtype=np.uint8)
    tags = np.empty((n, TAG_LEN), dtype=np.uint8)
    outs = (status, dev, fields, values, fit, tags)
    if _lib.veil_parse_lines(
        buf, _ptr(starts), _ptr(lens), n, devices, len(devices), width, *map(_ptr, outs)
    ):
        raise ValueError("bad device schema")
    return status, dev, fields, values, fit.astype(bool), tags


def parse_vals(texts: list[str], dev: np.ndarray, devices: bytes, width: int):
    """A store's value texts of devices `dev` (indices into `devices`) as (status, values (n,
    width), fit), as parse_lines reads a line's; None without the C library, or when a text
    holds a newline (then they cannot be read in one piece)."""
    if _lib is None:
        return None
    buf = "\n".join(texts).encode()
    ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
    if len(ends) != len(texts) - 1:
        return None
    starts = np.r_[0, ends + 1].astype(np.int64)
    lens = np.r_[ends, len(buf)].astype(np.int64) - starts
    n = len(texts)
    dev = np.ascontiguousarray(dev, dtype=np.int16)
    status = np.empty(n, dtype=np.int8)
    values = np.empty((n, width), dtype=np.int64)
    fit = np.empty(n, dtype=np.uint8)
    if _lib.veil_parse_vals(
        buf, _ptr(starts), _ptr(lens), n, devices, len(devices), _ptr(dev), width,
        _ptr(status), _ptr(values), _ptr(fit),
    ):  # fmt: skip
        raise ValueError("bad device schema")
    return status, values, fit.astype(bool)
