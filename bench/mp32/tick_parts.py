"""Garbage per tick of the firmware, by part, in the current folder (a provisioned board's
filesystem); runs under any MicroPython port (bench/mp32/run.mjs for the 32-bit one).

    tick_parts.py TICKS

Prints `part bytes_per_tick` lines: each part of Node.read() and Node.publish() called as
the tick calls it, with the collector off, over TICKS ticks after 50 warm-up ticks; then
`live` (the heap after a full collection, once the device is built), `stand_in` (what the
cryptolib stand-in itself holds, 0 where cryptolib is built in) and `tick` (a whole tick).
"""

import gc
import sys

gc.collect()
_base = gc.mem_alloc()
import cryptolib  # noqa: E402, F401  (the stand-in's own heap is measured here)

gc.collect()
stand_in = gc.mem_alloc() - _base

from veil import app, config  # noqa: E402
from veil.state import State  # noqa: E402

ticks = int(sys.argv[1])
cfg = config.load()
with config.tables() as tables:
    node = app.Node(
        cfg, config.subkeys(), State(reserve=cfg.get("reserve", 64)), config.profile(), tables
    )
node.open()
gc.collect()
live = gc.mem_alloc()
parts = {}


def measure(name, f, *args):
    a = gc.mem_alloc()
    r = f(*args)
    parts[name] = parts.get(name, 0) + gc.mem_alloc() - a
    return r


def tick(m):
    """Node.read() and Node.publish(), part by part (keep in step with veil/app.py)."""
    reading = node.reading
    d = node.driver
    mask = m("driver.read", d.read, reading)
    for i in range(len(reading)):
        if not node.lo[i] <= reading[i] <= node.hi[i]:
            mask |= 1 << i
    node.real = m("roles.track", node.roles.track, d.day, d.sec)
    real = node.values[node.real]
    for i in range(len(reading)):
        real[i] = reading[i]
    if node.shared:
        m("shared channels held", node._hold, real, mask)
    m("decoys.tick", node.decoys.tick, node.state.seq, d.day, d.sec, node.real, node.values,
      real, mask)  # fmt: skip
    node.mask = mask
    st = node.state
    drops = m("sink.drop_report", node.sink.drop_report)
    for t in range(node.k):
        is_real = t == node.real
        report = drops if is_real else 0
        mask = node.mask if is_real else 0
        line = m(
            "encoder.encode",
            node.enc.encode,
            mask,
            st.boot,
            st.seq,
            t,
            d.day,
            d.sec,
            node.values[t],
            is_real,
            report,
        )
        m("sink.write", node.sink.write, line, t, report)
    m("sink.flush", node.sink.flush)
    if m("state.advance", st.advance):
        m("decoys.save", node.decoys.save, st.seq - 1, d.day, d.sec)


def whole():
    node.read()
    node.publish()


def skip(name, f, *args):
    return f(*args)


for _ in range(50):
    tick(skip)
gc.collect()
gc.disable()
for _ in range(ticks):
    tick(measure)
a = gc.mem_alloc()
for _ in range(ticks):
    whole()
total = gc.mem_alloc() - a
gc.enable()
node.close()
for name in parts:
    print(name, parts[name] / ticks)
print("live", live)
print("stand_in", stand_in)
print("tick", total / ticks)
