"""Measure the firmware's tick loop in the current folder (a provisioned board's filesystem).

    micropython tick_probe.py TICKS

Runs 100 warm-up ticks, then TICKS more, and prints two lines:
`alloc_total garbage_per_tick us_total hmac_us`: bytes allocated (micropython.mem_total, which
also counts call frames freed on return) and microseconds spent over the measured ticks; the
garbage a tick leaves for the collector (heap growth per tick with the collector off, over 200
ticks); the time of one bare HMAC-SHA256 of a record's canonical bytes (the benchmark's
reference). Then the live heap after a full collection before the next TICKS ticks and after
each tenth of them.
"""

import gc
import sys
import time

import micropython

from veil import app, config
from veil.state import State

ticks = int(sys.argv[1])
cfg = config.load()
with config.tables() as tables:
    node = app.Node(
        cfg, config.subkeys(), State(reserve=cfg.get("reserve", 64)), config.profile(), tables
    )
node.open()


def run(n):
    for _ in range(n):
        if not node.read():
            raise SystemExit("replay data ran out")
        node.publish()


run(100)
total = micropython.mem_total()
t0 = time.ticks_us()
run(ticks)
us = time.ticks_diff(time.ticks_us(), t0)
total = micropython.mem_total() - total

gc.collect()
gc.disable()
garbage = gc.mem_alloc()
run(200)
garbage = (gc.mem_alloc() - garbage) // 200
gc.enable()

heap = [0] * 11
step = ticks // 10
i = 0
while i < 11:  # no iterator object: it would be live during the first sample only
    if i:
        run(step)
    gc.collect()
    heap[i] = gc.mem_alloc()
    i += 1

canon = node.enc.canonical()
mac = node.enc._real
t0 = time.ticks_us()
for _ in range(1000):
    mac.digest(canon)
hmac_us = time.ticks_diff(time.ticks_us(), t0) / 1000
node.close()
print(total, garbage, us, hmac_us)
print(" ".join(str(h) for h in heap))
