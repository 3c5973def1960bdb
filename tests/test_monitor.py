"""`veil monitor`: the board's log, live, never a secret (virtual board on a pty)."""

from __future__ import annotations

import base64
import os

import pytest

from veil.boards.masking import MASK, Masker
from veil.sim.vboard import VirtualBoard

from conftest import veil_cli

KEY = bytes(range(1, 33))


def test_masker_hides_every_form_of_a_known_secret():
    m = Masker([KEY])
    for form in (KEY.hex(), KEY.hex().upper(), base64.b64encode(KEY).decode(), repr(KEY)[2:-1]):
        out = m(f"log: {form} end")
        assert form not in out and out == f"log: {MASK} end"


@pytest.mark.parametrize(
    "line",
    [
        'wifi {"ssid": "home", "password": "hunter2!"}',
        "psk=s3cr3t-value more",
        "secret: abc123",
        "key = 'abcdef'",
        "dump " + os.urandom(32).hex(),
    ],
)
def test_masker_hides_unknown_secrets_by_shape(line):
    out = Masker()(line)
    assert MASK in out
    assert not any(s in out for s in ("hunter2", "s3cr3t", "abc123", "abcdef", line[-64:]))


def test_masker_leaves_ordinary_log_lines_alone():
    m = Masker([KEY])
    for line in (
        "veil: boot 3 device room1 k 4 seq 256 record 181 bytes",
        "veil: error: no key.bin: provision the board first",
        '{"tag":"9f0c1a2b3c4d5e6f708192a3b4c5d6e7"}',
    ):
        assert m(line) == line


MAIN = f"""\
import binascii
print("veil: boot 0")
key = {KEY!r}
print("leak hex", binascii.hexlify(key).decode())
print("leak repr", key)
print("wifi password=hunter2")
for i in range(3):
    print("veil: ticks", i)
"""


def test_monitor_shows_the_log_from_boot_with_secrets_masked(tmp_path):
    root = tmp_path / "flash"
    root.mkdir()
    (root / "main.py").write_text(MAIN)
    home = tmp_path / "h"
    home.mkdir()
    (home / "home.key").write_bytes(KEY)
    with VirtualBoard(root) as vb:
        p = veil_cli(
            "monitor", vb.port, "--home", home, "--reset", "--until", "ticks 2",
            "--duration", 20, cwd=tmp_path,
        )  # fmt: skip
    lines = p.stdout.splitlines()
    assert lines[0] == "veil: boot 0"
    assert lines[-1] == "veil: ticks 2"
    assert f"leak hex {MASK}" in lines and "wifi password=***" in lines
    assert KEY.hex() not in p.stdout and "hunter2" not in p.stdout
    assert "\\x01\\x02\\x03" not in p.stdout


def test_monitor_gives_up_after_its_duration(tmp_path):
    root = tmp_path / "flash"
    root.mkdir()
    with VirtualBoard(root) as vb:
        p = veil_cli(
            "monitor", vb.port, "--until", "never printed", "--duration", 1, cwd=tmp_path,
            check=False,
        )  # fmt: skip
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        f"monitoring {vb.port} (Ctrl-C to stop)",
        f"veil: error: saw nothing from {vb.port} in 1 s: no board, or one that is not "
        "running (start it with --reset; a running board logs only every --log-every ticks)",
    ]
