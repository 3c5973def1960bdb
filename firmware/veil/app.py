"""The tick loop: read the sensor, make k-1 fakes, publish k records in track order.

All work of a tick happens before the first record of that tick is written, and the real
track is treated exactly like the fakes, so timing, size and order say nothing about which
track is real. Nothing here prints a key: logs carry counters and error messages only.
"""

import gc
import time

from . import clock, config, proto, settings
from .decoy import Decoys
from .drivers import END
from .roles import Roles
from .state import State

RESET_AFTER_MS = 30000  # pause between an unforeseen error and the reset it ends in
RETRY_MS = 1000  # first pause before building the device again after an OSError at start


def log(*parts):
    print("veil:", *parts)


def _load(kind, name):
    """Import veil.<kind>.<name> and return it (drivers and sinks are chosen by config)."""
    pkg = __import__("veil." + kind + "." + name)
    return getattr(getattr(pkg, kind), name)


class Node:
    """One device: everything allocated once, then `read()` and `publish()` once per tick.
    Built in two steps: the records and the decoys from the profile, then (`open()`) the
    driver and the sink, which may need hardware or the network and are made again when that
    is not there yet. Between them the caller can drop the profile (a third of the heap)."""

    def __init__(self, cfg, keys, state, profile, tables):
        k_real, k_fake, k_track, k_decoy = keys
        self.cfg = cfg
        self.k = cfg["k"]
        self.state = state
        dev, ep = cfg["dev"], cfg["epoch"]
        chans = cfg["channels"]
        spec = [(c["name"], c["dec"], c["lo"], c["hi"]) for c in chans]
        houses = proto.placement(k_track, dev, ep, self.k)
        self.roles = Roles(k_track, ep, houses, cfg["version"], cfg["tz"])
        self.real = self.roles.real  # v2: known from the first reading's time on
        self.enc = proto.Encoder(dev, self.k, ep, spec, k_real, k_fake, cfg["version"])
        self.decoys = Decoys(
            profile, tables, spec, k_decoy, dev, ep, houses, cfg["tz"], self.roles.redeals
        )
        # v2: the track real before the reboot is the one of its day; -1 replays every walk
        self.decoys.restore(state.seq, int(profile.get("period_s", 30)), self.real)
        self._spec = spec
        self.driver = self.sink = None
        self.lo = [c["lo"] for c in chans]
        self.hi = [c["hi"] for c in chans]
        self.values = [[0] * len(chans) for _ in range(self.k)]
        self.reading = [0] * len(chans)  # the sensor's, copied onto the real track
        self.shared = ((1 << len(chans)) - 1) & ~self.decoys.walked  # channels not walked
        self.held = [0] * len(chans)  # last in-bounds reading of each shared channel
        self.have = 0  # shared channels with a held reading
        self.failed = 0
        self.mask = 0

    def open(self):
        """Make the driver and the sink (OSError when a sensor or the network is missing)."""
        cfg = self.cfg
        drv = cfg.get("driver", {"type": "replay"})
        snk = dict(cfg.get("sink", {"type": "spool"}), dev=cfg["dev"], k=self.k)
        self.driver = _load("drivers", drv["type"]).Driver(self._spec, drv)
        self.sink = _load("sinks", snk["type"]).Sink(snk, self.enc.size)

    def read(self):
        """Read the sensor onto the real track of its time; False when the driver has no more
        data. A reading out of its bounds counts as a failed one (protocol 4.3)."""
        reading = self.reading
        mask = self.driver.read(reading)
        if mask == END:
            return False
        for i in range(len(reading)):
            if not self.lo[i] <= reading[i] <= self.hi[i]:
                mask |= 1 << i
        d = self.driver
        self.real = real = self.roles.track(d.day, d.sec)
        row = self.values[real]
        for i in range(len(reading)):
            row[i] = reading[i]
        if self.shared:
            self._hold(row, mask)
        self.decoys.tick(self.state.seq, d.day, d.sec, real, self.values, row, mask)
        self.mask = mask
        if mask:
            self.failed += 1
        return True

    def _hold(self, row, mask):
        """A shared channel publishes the real reading on every track, so when it fails or
        reads out of bounds every track holds its last in-bounds reading (clamped into the
        bounds before there is one); walked channels get the decoys' stand-ins instead."""
        for i in range(len(row)):
            bit = 1 << i
            if not self.shared & bit:
                continue
            if not mask & bit:
                self.held[i] = row[i]
                self.have |= bit
            elif self.have & bit:
                row[i] = self.held[i]
            else:
                row[i] = min(max(row[i], self.lo[i]), self.hi[i])

    def publish(self):
        """Encode and write the k records of this tick, then move to the next sequence number."""
        day = self.driver.day
        sec = self.driver.sec
        st = self.state
        drops = self.sink.drop_report()  # only the real record carries it (protocol 4.4)
        enc = self.enc
        for t in range(self.k):
            is_real = t == self.real
            mask = self.mask if is_real else 0
            report = drops if is_real else 0
            line = enc.encode(mask, st.boot, st.seq, t, day, sec, self.values[t], is_real, report)
            self.sink.write(line, t, report)
        self.sink.flush()
        if st.advance():
            self.decoys.save(st.seq - 1, day, sec)

    def close(self):
        self.sink.close()


class Pacer:
    """When ticks happen: every `period_ms`, at the data's own timestamps sped up by `speed`
    (replay in real time), or as fast as possible (`pace` = "period", "timestamps", "fast").
    The due time moves on by each tick's step with ticks_add, so that no count of
    milliseconds since the start outgrows a small integer or ticks_ms's wrap (12 days)."""

    def __init__(self, cfg):
        self.mode = cfg.get("pace", "period")
        self.period = cfg.get("period_ms", 30000)
        self.speed = max(1, cfg.get("speed", 1))
        self.due = time.ticks_ms()
        self.day = -1  # the last reading's time (timestamps pace)
        self.sec = 0
        self.rest = 0  # milliseconds * speed not yet waited for

    def _wait(self):
        wait = time.ticks_diff(self.due, time.ticks_ms())
        if wait > 0:
            time.sleep_ms(wait)

    def before_read(self):
        if self.mode == "period":
            self._wait()
            self.due = time.ticks_add(self.due, self.period)

    def before_publish(self, day, sec):
        if self.mode == "timestamps":
            if self.day >= 0:
                step = ((day - self.day) * clock.DAY + sec - self.sec) * 1000 + self.rest
                self.rest = step % self.speed
                self.due = time.ticks_add(self.due, step // self.speed)
            else:
                self.due = time.ticks_ms()
            self.day = day
            self.sec = sec
            self._wait()


def reset_after(e):
    """Log an unforeseen error by kind and message, then reset the board after a pause, as a
    watchdog would: a board in a cupboard comes back by itself, and an error that recurs at
    every boot resets it twice a minute, not in a tight loop that wears the flash (each boot
    writes the sequence mark). Without machine.reset (the bare Unix port) the error goes up."""
    log("crash:", type(e).__name__, e)
    try:
        from machine import reset
    except ImportError:
        raise e
    log("reset in", RESET_AFTER_MS, "ms")
    time.sleep_ms(RESET_AFTER_MS)
    reset()


def _open(node):
    """node.open(), again after a doubling pause while it raises OSError."""
    pause = RETRY_MS
    while True:
        try:
            return node.open()
        except OSError as e:
            log("start failed:", e, "- retry in", pause, "ms")
            time.sleep_ms(pause)
            pause = min(2 * pause, RESET_AFTER_MS)


def main(config_path="config.json", key_path="key.bin"):
    """Run until the driver ends (replay) or forever (sensors). Errors that need the owner (a
    bad config, profile or replay file: ConfigError) end with an `error:` log line; an OSError
    while the device starts (a sensor or the network not there yet) is retried after a
    doubling pause; any other error ends in a reset (`reset_after`)."""
    try:
        done = settings.recover()
        if done:
            log("settings:", done)
        cfg = config.load(config_path)
        keys = config.subkeys(key_path)
        profile = config.profile()
        state = State(reserve=cfg.get("reserve", 64))
        with config.tables() as tables:
            node = Node(cfg, keys, state, profile, tables)
        # The device keeps only arrays made from the profile. Emptied, the parsed document is
        # freed before the sink is made, even where a stale word on the stack still points at
        # it: the collector is conservative, and kept it alive for the device's whole life.
        profile.clear()
        keys = profile = None
        gc.collect()
        _open(node)
    except (config.ConfigError, ValueError, KeyError) as e:
        log("error:", e)
        return
    except Exception as e:
        reset_after(e)
        return
    gc.collect()
    every = cfg.get("log_every", 1000)
    log(
        "boot",
        state.boot,
        "device",
        cfg["device"],
        "k",
        node.k,
        "seq",
        state.seq,
        "record",
        node.enc.size,
        "bytes",
    )
    pacer = Pacer(cfg)
    n = 0
    crash = None
    try:
        while True:
            pacer.before_read()
            if not node.read():
                break
            pacer.before_publish(node.driver.day, node.driver.sec)
            node.publish()
            n += 1
            if n % every == 0:
                log("ticks", n, "seq", state.seq, "failed", node.failed)
    except config.ConfigError as e:  # bad recorded data: the owner must provision anew
        log("error:", e)
    except Exception as e:  # Ctrl-C (KeyboardInterrupt) is no Exception: it just stops
        crash = e
    finally:
        node.close()
        log("stopped after", n, "ticks; seq", state.seq, "failed", node.failed)
    if crash:
        reset_after(crash)
