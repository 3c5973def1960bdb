"""Board configuration (config.json), decoy profile (profile.json, decoy.bin) and secrets
(key.bin), read once at boot.

The home key lives in its own file, is read only here, and only its derived subkeys are kept.
"""

import json

from . import proto

_NAME_OK = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


class ConfigError(Exception):
    pass


def _name(s, what):
    b = s.encode()
    if not 1 <= len(b) <= 32 or any(c not in _NAME_OK for c in b):
        raise ConfigError("bad %s name %r" % (what, s))
    return b


def _read_json(path, missing):
    """The JSON document at `path`; ConfigError `missing` (with the path) if there is none."""
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        raise ConfigError(missing % path)
    except ValueError:
        raise ConfigError("%s is not valid JSON" % path)


def load(path="config.json"):
    cfg = _read_json(path, "no %s: provision the board first")
    for key in ("device", "k", "channels"):
        if key not in cfg:
            raise ConfigError("%s lacks %r" % (path, key))
    cfg["dev"] = _name(cfg["device"], "device")
    if not 2 <= cfg["k"] <= proto.MAX_K:
        raise ConfigError("k must be 2..%d" % proto.MAX_K)
    cfg.setdefault("epoch", 0)
    cfg.setdefault("version", 1)  # a config from before v2
    cfg.setdefault("tz", 0)
    if not 1 <= cfg["version"] <= proto.VERSION:
        raise ConfigError("protocol version must be 1..%d" % proto.VERSION)
    if not -43200 <= cfg["tz"] <= 50400:
        raise ConfigError("tz must be a UTC offset in seconds")
    if not 1 <= len(cfg["channels"]) <= proto.MAX_CHANNELS:
        raise ConfigError("a device has 1..%d channels" % proto.MAX_CHANNELS)
    for c in cfg["channels"]:
        _name(c["name"], "channel")
        if not c["lo"] <= c["hi"]:
            raise ConfigError("channel %s: lo > hi" % c["name"])
    return cfg


def subkeys(path="key.bin"):
    """(K_real, K_fake, K_track, K_decoy) from the home key file; the key itself is dropped."""
    try:
        with open(path, "rb") as f:
            home = f.read()
    except OSError:
        raise ConfigError("no %s: provision the board first" % path)
    if len(home) != 32:
        raise ConfigError("%s is not a 32-byte home key" % path)
    return tuple(proto.subkey(home, label) for label in proto.LABELS)


def profile(path="profile.json"):
    """The decoy profile: how this home's fakes behave (see host/veil/privacy/profile.py)."""
    doc = _read_json(path, "no %s: provision the board with a decoy profile")
    if doc.get("veil_profile") != 2:
        raise ConfigError("%s is not a veil decoy profile" % path)
    return doc


def tables(path="decoy.bin"):
    """The decoy profile's tables, an open binary file the decoys read their arrays from (kept
    out of profile.json so that parsing it never holds them as text)."""
    try:
        return open(path, "rb")
    except OSError:
        raise ConfigError("no %s: provision the board with a decoy profile" % path)


def secrets(path="secrets.json"):
    """Transport secrets (MQTT and Wi-Fi passwords), kept apart from config.json; {} if none.
    Callers keep them in memory only: they are never printed or logged."""
    try:
        with open(path) as f:
            found = json.load(f)
    except OSError:
        return {}
    except ValueError:
        raise ConfigError("%s is not valid JSON" % path)
    if not isinstance(found, dict):
        raise ConfigError("%s is not a JSON object" % path)
    return found
