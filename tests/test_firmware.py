"""Firmware modules tested under the MicroPython binary (tests/mpy/units.py)."""

from conftest import run_mpy_tests


def test_firmware_units_under_micropython(tmp_path):
    run_mpy_tests("units.py", tmp_path)
