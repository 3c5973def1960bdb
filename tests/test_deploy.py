"""`veil deploy` and `veil provision` on the virtual board, through mpremote as on a real one."""

from __future__ import annotations

import json

import pytest

from veil.boards.deploy import build
from veil.boards.link import BoardLink
from veil.boards.settingset import put_set
from veil.sim.vboard import VirtualBoard

from conftest import ROOM, veil_cli, wait_for


@pytest.fixture
def vboard(tmp_path):
    root = tmp_path / "flash"
    root.mkdir()
    with VirtualBoard(root) as vb:
        yield vb, root


def deployed(out: str) -> tuple[int, int]:
    """(copied, removed) from `veil deploy`'s report."""
    words = out.split()
    return int(words[words.index("copied,") - 1]), int(words[words.index("removed,") - 1])


def test_deploy_copies_the_compiled_bundle_then_only_what_changed(vboard, tmp_path):
    vb, root = vboard
    bundle = build(tmp_path / "bundle")
    first = veil_cli("deploy", vb.port, "--board", "virtual", cwd=tmp_path).stdout
    assert deployed(first) == (len(bundle.files), 0)
    assert f"bundle {bundle.size} bytes" in first
    for remote, local in bundle.files.items():
        assert (root / remote).read_bytes() == local.read_bytes()
    assert not list(root.rglob("veil/**/*.py")) and (root / "main.py").exists()
    assert bundle.size < bundle.source_bytes / 2

    assert deployed(veil_cli("deploy", vb.port, cwd=tmp_path).stdout) == (0, 0)

    (root / "veil" / "decoy.mpy").write_bytes(b"corrupted")
    (root / "veil" / "proto.py").write_text("raise ImportError('stale source wins')\n")
    (root / "veil" / "drivers" / "gone.mpy").write_bytes(b"old module")
    assert deployed(veil_cli("deploy", vb.port, cwd=tmp_path).stdout) == (1, 2)
    assert not (root / "veil" / "proto.py").exists()
    assert not (root / "veil" / "drivers" / "gone.mpy").exists()
    board = BoardLink(vb.port)
    assert board.exec("import veil.proto; print(veil.proto.VERSION)").strip() == "2"


def test_deploy_to_the_wrong_board_type_is_refused(vboard, tmp_path):
    vb, root = vboard
    p = veil_cli("deploy", vb.port, "--board", "esp32-c3", cwd=tmp_path, check=False)
    assert p.returncode == 1
    assert "runs MicroPython for 'linux" in p.stderr and "ESP32C3" in p.stderr
    assert not (root / "veil").exists()


def test_provision_needs_the_firmware_first(vboard, tmp_path):
    vb, root = vboard
    veil_cli("keygen", "--home", "h", cwd=tmp_path)
    p = veil_cli(
        "provision", vb.port, "--home", "h", "--device", "a", "--csv", ROOM, "--rows", 5,
        "--channel", "S5_CO2", cwd=tmp_path, check=False,
    )  # fmt: skip
    assert p.returncode == 1
    assert p.stderr.strip() == (
        f"veil: error: the board on {vb.port} has no veil firmware: run `veil deploy {vb.port}` "
        "first"
    )
    assert not (root / "key.bin").exists()


def test_settings_set_lands_whole_and_an_interrupted_one_is_settled_at_boot(vboard, tmp_path):
    vb, root = vboard
    veil_cli("deploy", vb.port, cwd=tmp_path)
    board = BoardLink(vb.port)
    files = {}
    for name, text in (("config.json", '{"device": "one"}'), ("key.bin", "k" * 32)):
        files[name] = tmp_path / name
        files[name].write_text(text)
    put_set(board, files)
    assert (root / "config.json").read_text() == '{"device": "one"}'
    assert sorted(p.name for p in root.iterdir()) == ["config.json", "key.bin", "main.py", "veil"]

    # An update cut off after its files were copied but before the commit: dropped at boot.
    (root / "config.json.new").write_text('{"device": "two"}')
    board.mpremote("reset")
    wait_for(lambda: not (root / "config.json.new").exists())
    assert (root / "config.json").read_text() == '{"device": "one"}'

    # Cut off after the commit record, before the renames: finished at boot.
    (root / "config.json.new").write_text('{"device": "three"}')
    (root / "key.bin.new").write_text("n" * 32)
    (root / "settings.commit").write_text("config.json\nkey.bin\n")
    board.mpremote("reset")
    wait_for(lambda: not (root / "settings.commit").exists())
    assert (root / "config.json").read_text() == '{"device": "three"}'
    assert (root / "key.bin").read_text() == "n" * 32


def test_several_devices_of_one_home_share_its_key_k_and_epoch(tmp_path):
    veil_cli("keygen", "--home", "h", cwd=tmp_path)
    feeds = []
    for device, channel in (("kitchen", "S1_Temp"), ("hall", "S5_CO2")):
        root = tmp_path / device
        root.mkdir()
        with VirtualBoard(root) as vb:
            veil_cli("deploy", vb.port, cwd=tmp_path)
            out = veil_cli(
                "provision", vb.port, "--home", "h", "--device", device, "--board", "virtual",
                "--csv", ROOM, "--channel", channel, "--rows", 30, cwd=tmp_path,
            ).stdout  # fmt: skip
            assert f"provisioned {device}" in out and "k=4, epoch 0" in out
            veil_cli("monitor", vb.port, "--reset", "--until", "stopped", "--duration", 30,
                     cwd=tmp_path)  # fmt: skip
            veil_cli("fetch", vb.port, "--out", f"{device}.jsonl", cwd=tmp_path)
            feeds.append(f"{device}.jsonl")
            assert (root / "key.bin").read_bytes() == (tmp_path / "h" / "home.key").read_bytes()
    specs = json.loads((tmp_path / "h" / "devices.json").read_text())["devices"]
    assert sorted(s["device"] for s in specs) == ["hall", "kitchen"]
    p = veil_cli("decode", "--home", "h", *feeds, "--report", "r.json", cwd=tmp_path)
    assert "60 real readings" in p.stdout
    assert json.loads((tmp_path / "r.json").read_text())["clean"]

    p = veil_cli(
        "provision", "/dev/ttyUSB0", "--home", "h", "--device", "attic", "--csv", ROOM,
        "--k", 8, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert p.returncode == 1
    assert "uses k=4, epoch 0, protocol v2 and tz 0 for hall, kitchen" in p.stderr


def test_fetch_from_a_board_that_has_not_published(vboard, tmp_path):
    vb, _ = vboard
    p = veil_cli("fetch", vb.port, "--out", "f.jsonl", cwd=tmp_path, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith(f"veil: error: no feed.jsonl on the board on {vb.port}")
    assert not (tmp_path / "f.jsonl").exists()
