"""Firmware modules tested under the MicroPython binary (tests/mpy/units.py)."""

import re

from conftest import REPO, micropython


def test_firmware_units_under_micropython(tmp_path):
    p = micropython(REPO / "tests" / "mpy" / "units.py", cwd=tmp_path)
    source = (REPO / "tests" / "mpy" / "units.py").read_text()
    declared = set(re.findall(r"^def (test_\w+)", source, re.M))
    passed = set(re.findall(r"^ok (test_\w+)$", p.stdout, re.M))
    assert p.returncode == 0, p.stdout + p.stderr
    assert passed == declared
