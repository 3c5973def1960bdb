"""What each sensor driver of the firmware publishes: its channels, their kind, decimals and
physical bounds.

A sensor's quantities come in the order its firmware driver writes them
(`firmware/veil/drivers/<type>.py`, `CHANNELS`); the tests check that both sides agree. Values
are integers n = reading x 10**dec, as on the wire (docs/protocol.md). Bounds are what the part
can report. The kind picks the default decoy model (veil.privacy.profile) until the owner
fits one from the home's own readings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    key: str
    kind: str
    dec: int
    lo: int
    hi: int


@dataclass(frozen=True)
class Sensor:
    type: str
    bus: str  # "i2c", "pin" or "file"
    quantities: tuple[Quantity, ...]
    addr: int | None = None  # default I2C address

    def quantity(self, key: str) -> Quantity:
        return next(q for q in self.quantities if q.key == key)


def _temp(dec, lo, hi):
    return Quantity("temp", "temperature", dec, lo * 10**dec, hi * 10**dec)


def _hum(dec):
    return Quantity("hum", "humidity", dec, 0, 100 * 10**dec)


def _binary(key, kind):
    return Quantity(key, kind, 0, 0, 1)


SENSORS = {
    s.type: s
    for s in (
        Sensor("sht3x", "i2c", (_temp(2, -40, 125), _hum(2)), 0x44),
        Sensor(
            "bme280",
            "i2c",
            (
                _temp(2, -40, 85),
                _hum(2),
                Quantity("press", "pressure", 2, 30000, 110000),
            ),
            0x76,
        ),
        Sensor(
            "scd4x",
            "i2c",
            (Quantity("co2", "co2", 0, 0, 40000), _temp(2, -10, 60), _hum(2)),
            0x62,
        ),
        Sensor("bh1750", "i2c", (Quantity("light", "light", 0, 0, 54613),), 0x23),
        Sensor("dht22", "pin", (_temp(1, -40, 80), _hum(1))),
        Sensor("pir", "pin", (_binary("motion", "motion"),)),
        Sensor("reed", "pin", (_binary("door", "door"),)),
        Sensor("replay", "file", ()),
    )
}
