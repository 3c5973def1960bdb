"""Sensor drivers under the MicroPython binary with recorded bus transactions
(tests/mpy/drivers.py), and the host's sensor catalogue against the drivers."""

import re

from veil.boards.sensors import SENSORS
from veil.privacy.profile import check, default_profile
from veil.protocol import Channel, DeviceSpec

from conftest import run_mpy_tests


def test_drivers_under_micropython(tmp_path):
    out = run_mpy_tests("drivers.py", tmp_path)
    firmware = {m: tuple(c.split(",")) for m, c in re.findall(r"^channels (\w+) (\S+)$", out, re.M)}
    host = {t: tuple(q.key for q in s.quantities) for t, s in SENSORS.items() if s.quantities}
    assert firmware == host


def test_every_sensor_quantity_has_a_default_decoy_model():
    for sensor in SENSORS.values():
        for q in sensor.quantities:
            spec = DeviceSpec("d", 4, 0, (Channel(q.key, q.dec, q.lo, q.hi),))
            prof = default_profile(spec, [q.kind])
            check(prof)
            model = prof["channels"][q.key]
            assert model["kind"] == q.kind and model["dec"] == q.dec, (sensor.type, q.key)
