"""The firmware's tick loop on a board file's sensor set, with the buses replaced by recorded
parts: run in a provisioned board folder, `sensor_node.py TICKS`. Motion is seen on every third
tick, the door is open on odd ticks. Prints the garbage per tick at the end."""

import gc
import sys

from fakes import FakePin, RecordedBus

from veil import app, config
from veil.drivers.sensirion import crc8
from veil.state import State


def word(w):
    b = bytes((w >> 8, w & 0xFF))
    return b + bytes((crc8(b, 0, 2),))


BUS = RecordedBus(
    {
        (0x44, b"\x24\x00"): word(0xBEEF) + word(0x5EB9),  # SHT3x
        (0x62, b"\xe4\xb8"): word(0x8006),  # SCD4x: data ready
        (0x62, b"\xec\x05"): word(0x01F4) + word(0x6667) + word(0x5EB9),
        (0x23, b"\x10"): b"\x83\x90",  # BH1750
    }
)

cfg = config.load()
pins = {}
for s in cfg["driver"]["sensors"]:
    if "pin" in s:
        pins[s["type"]] = s["pin"] = FakePin()
cfg["driver"]["bus"] = BUS
with config.tables() as tables:
    node = app.Node(cfg, config.subkeys(), State(), config.profile(), tables)
node.open()
ticks = int(sys.argv[1])
for i in range(ticks):
    pins["pir"].level = 1 if i % 3 == 0 else 0
    pins["reed"].level = i % 2
    if i == ticks - 10:
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
    node.read()
    node.publish()
print("garbage per tick", (gc.mem_alloc() - before) // 10)
node.close()
