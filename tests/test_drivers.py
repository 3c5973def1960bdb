"""Sensor drivers under the MicroPython binary with recorded bus transactions
(tests/mpy/drivers.py), and the host's sensor catalogue against the drivers."""

import re

from veil.sensors import SENSORS

from conftest import run_mpy_tests


def test_drivers_under_micropython(tmp_path):
    out = run_mpy_tests("drivers.py", tmp_path)
    firmware = {m: tuple(c.split(",")) for m, c in re.findall(r"^channels (\w+) (\S+)$", out, re.M)}
    host = {t: tuple(q.key for q in s.quantities) for t, s in SENSORS.items() if s.quantities}
    assert firmware == host


def test_catalogue_bounds_hold_the_fakes_range():
    for sensor in SENSORS.values():
        for q in sensor.quantities:
            assert q.lo <= q.low <= q.mu <= q.high <= q.hi, (sensor.type, q.key)
