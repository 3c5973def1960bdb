"""Firmware modules tested under the MicroPython binary (tests/mpy/units.py)."""

from conftest import run_mpy_tests


def test_firmware_units_under_micropython(tmp_path):
    run_mpy_tests("units.py", tmp_path)


def test_settings_set_survives_a_cut_at_every_step(tmp_path):
    run_mpy_tests("settings_set.py", tmp_path)
