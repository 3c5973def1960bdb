"""Mistakes a new user makes, each answered with the one line they need: the wrong home
folder, a bad option value, a silent port, a board that says nothing, a broker that is not
running."""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOM, veil_cli


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    """A home `h` with device room1 and its feed, made on the virtual board."""
    d = tmp_path_factory.mktemp("fed")
    veil_cli("keygen", "--home", "h", cwd=d)
    veil_cli("sim", ROOM, "--home", "h", "--device", "room1", "--rows", 30, "--channel",
             "S5_CO2", "--out", "feed.jsonl", cwd=d)  # fmt: skip
    return d


def one_line_error(p, code=1) -> str:
    assert p.returncode == code, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("veil: error: ")
    return lines[0]


def test_decode_without_home_asks_for_the_right_folder_not_a_new_key(fed):
    line = one_line_error(veil_cli("decode", "feed.jsonl", cwd=fed, check=False))
    assert "no home key at veil-home/home.key: give the --home folder" in line
    assert "run `veil keygen`" not in line and "cannot decode them" in line


def test_a_home_with_a_key_and_no_devices(fed):
    veil_cli("keygen", "--home", "empty", cwd=fed)
    line = one_line_error(veil_cli("decode", "feed.jsonl", "--home", "empty", cwd=fed,
                                   check=False))  # fmt: skip
    assert "empty has a key but no devices: give the --home folder of the home these" in line


def test_another_homes_folder_names_the_devices_of_each(fed):
    veil_cli("keygen", "--home", "other", cwd=fed)
    veil_cli("sim", ROOM, "--home", "other", "--device", "kitchen", "--rows", 5, "--channel",
             "S5_CO2", "--out", "k.jsonl", cwd=fed)  # fmt: skip
    line = one_line_error(veil_cli("decode", "feed.jsonl", "--home", "other", cwd=fed,
                                   check=False))  # fmt: skip
    assert line == (
        "veil: error: the records are from device room1, not from devices of other (it has "
        "device kitchen): give the --home folder of the home that made them"
    )
    assert "injected" not in line


def test_another_homes_key_for_the_same_device_name(fed):
    veil_cli("keygen", "--home", "twin", cwd=fed)
    veil_cli("sim", ROOM, "--home", "twin", "--device", "room1", "--rows", 5, "--channel",
             "S5_CO2", "--out", "t.jsonl", cwd=fed)  # fmt: skip
    line = one_line_error(veil_cli("decode", "feed.jsonl", "--home", "twin", cwd=fed,
                                   check=False))  # fmt: skip
    assert "verifies with this home key" in line and "(is twin the right --home folder?)" in line


@pytest.mark.parametrize(
    "args, words",
    [
        (["sim", ROOM, "--channel", "S5_CO2:abc"], "Invalid value for '--channel': 'S5_CO2:abc'"),
        (["provision", "auto", "--device", "d", "--csv", ROOM, "--channel", ":2"], "'--channel'"),
        (["sim"], "Missing argument 'CSV' (see `veil sim --help`)"),
        (["audit"], "give feed files or --store"),
    ],
)
def test_bad_option_values_are_one_line_at_parse_time(tmp_path, args, words):
    line = one_line_error(veil_cli(*args, cwd=tmp_path, check=False), code=2)
    assert words in line


@pytest.mark.parametrize("args", [["audit"], ["audit", "f.jsonl", "--home", "nowhere"]])
def test_audit_mistakes_are_refused_before_the_heavy_imports(tmp_path, args):
    """What made `veil audit` take 4 s to print a usage error: numpy and the attacks loaded
    first."""
    code = (
        "import sys\nfrom veil.cli import main\nsys.argv = ['veil', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('numpy', 'sklearn', 'matplotlib') if m in sys.modules))"
    )
    p = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert p.stderr.startswith("veil: error: ")
    assert p.stdout.strip() == "[]"


def test_flash_on_a_silent_port_gives_the_remedies_before_any_download(tmp_path):
    with socket.socket() as dead, socket.socket() as silent:
        dead.bind(("127.0.0.1", 0))  # nobody listens: the download would fail
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)  # accepts, never answers: no ROM bootloader there
        p = veil_cli(
            "flash", f"socket://127.0.0.1:{silent.getsockname()[1]}", "--board", "esp32-s3",
            "--cache", tmp_path / "empty", "--no-reset", cwd=tmp_path, check=False,
            env={"VEIL_MICROPYTHON_URL": f"http://127.0.0.1:{dead.getsockname()[1]}/"},
        )  # fmt: skip
    line = p.stderr.strip().splitlines()[-1]
    assert p.returncode == 1
    assert line.startswith("veil: error: esptool: Failed to connect")
    assert "hold BOOT while pressing EN" in line and "check the USB cable" in line
    assert "try --no-reset" in line and "download" not in p.stderr


def test_monitor_on_a_port_with_no_board_says_it_saw_nothing(tmp_path):
    master, slave = pty.openpty()  # a serial port where nothing ever speaks
    port = os.ttyname(slave)
    try:
        p = veil_cli("monitor", port, "--duration", 1, cwd=tmp_path, check=False)
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr.strip().splitlines() == [
        f"monitoring {port} (Ctrl-C to stop)",
        f"veil: error: saw nothing from {port} in 1 s: no board, or one that is not running "
        "(start it with --reset; a running board logs only every --log-every ticks)",
    ]


def test_sim_against_a_dead_broker_says_so_at_once(fed):
    veil_cli("broker", "brk", "--device", "late", "--reader", "ingest", "--port", 1, cwd=fed)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    url = f"mqtts://127.0.0.1:{port}"
    p = veil_cli("sim", ROOM, "--home", "h", "--device", "late", "--rows", 5, "--mqtt", url,
                 "--broker-dir", "brk", cwd=fed, check=False)  # fmt: skip
    assert time.monotonic() - start < 30  # it waits 10 s for a broker that is starting
    assert p.returncode == 1 and p.stdout == ""
    line = p.stderr.strip().splitlines()[-1]
    assert line == (
        f"veil: error: the broker at 127.0.0.1:{port} does not answer (Connection refused): "
        "start it first; nothing was replayed"
    )
    assert p.stderr.startswith(f"reach the platform at 127.0.0.1:{port}: ")  # not silent
    assert "late" not in (fed / "h" / "devices.json").read_text()


def test_sim_whose_broker_never_answers_says_where_the_records_are(fed):
    """A broker that takes the connection but never speaks MQTT: nothing is delivered, and
    the virtual board that held the records is gone, which the error says; no success line."""
    veil_cli("broker", "brk2", "--device", "mute", "--reader", "ingest", "--port", 1, cwd=fed)
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        url = f"mqtts://127.0.0.1:{mute.getsockname()[1]}"
        p = veil_cli("sim", ROOM, "--home", "h", "--device", "mute", "--rows", 3, "--mqtt", url,
                     "--channel", "S5_CO2", "--broker-dir", "brk2", cwd=fed,
                     check=False)  # fmt: skip
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    line = lines[-1]
    assert line.startswith("veil: error: mute: 12 records were not delivered over mqtt")
    assert any(x.startswith("send what is left to the mqtt platform: ") for x in lines), lines
    assert line.endswith(
        "the virtual board and its outbox are gone: once the platform answers, run this again "
        "(a fresh virtual board makes the same records, stored once)"
    )
    assert "ticks x" not in p.stdout
