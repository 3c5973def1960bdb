"""What each sensor driver of the firmware publishes: its channels, their decimals, physical
bounds and the first decoy generator's hints.

A sensor's quantities come in the order its firmware driver writes them
(`firmware/veil/drivers/<type>.py`, `CHANNELS`); the tests check that both sides agree. Values
are integers n = reading x 10**dec, as on the wire (docs/protocol.md). Bounds are what the part
can report; hints describe an ordinary indoor room, which the fakes keep to.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    key: str
    dec: int
    lo: int
    hi: int
    mu: int
    sd: int
    low: int  # the range the fakes keep to (decoy hints "min" and "max")
    high: int

    def hint(self) -> dict:
        return {"mu": self.mu, "sd": self.sd, "q": 1, "min": self.low, "max": self.high}


@dataclass(frozen=True)
class Sensor:
    type: str
    bus: str  # "i2c", "pin" or "file"
    quantities: tuple[Quantity, ...]
    addr: int | None = None  # default I2C address

    def quantity(self, key: str) -> Quantity:
        return next(q for q in self.quantities if q.key == key)


def _temp(dec, lo, hi):
    s = 10**dec
    return Quantity("temp", dec, lo * s, hi * s, 21 * s, 3 * s // 2, 15 * s, 30 * s)


def _hum(dec):
    s = 10**dec
    return Quantity("hum", dec, 0, 100 * s, 45 * s, 8 * s, 20 * s, 75 * s)


def _binary(key):
    return Quantity(key, 0, 0, 1, 0, 1, 0, 1)


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
                Quantity("press", 2, 30000, 110000, 101300, 500, 98000, 104000),
            ),
            0x76,
        ),
        Sensor(
            "scd4x",
            "i2c",
            (Quantity("co2", 0, 0, 40000, 600, 200, 400, 2000), _temp(2, -10, 60), _hum(2)),
            0x62,
        ),
        Sensor("bh1750", "i2c", (Quantity("light", 0, 0, 54613, 150, 150, 0, 1000),), 0x23),
        Sensor("dht22", "pin", (_temp(1, -40, 80), _hum(1))),
        Sensor("pir", "pin", (_binary("motion"),)),
        Sensor("reed", "pin", (_binary("door"),)),
        Sensor("replay", "file", ()),
    )
}
