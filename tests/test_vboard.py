"""The virtual board, driven by the real mpremote CLI exactly as a board on a serial port."""

from __future__ import annotations

import hashlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
import tty
import uuid

import pytest

from veil.sim.vboard import VirtualBoard, VirtualBoardError

from conftest import interpreters, wait_for

COUNT_BOOTS = """\
import machine
open("boots.txt", "a").write("%d\\n" % machine.reset_cause())
"""


@pytest.fixture
def flash(tmp_path):
    root = tmp_path / "flash"
    root.mkdir()
    return root


@pytest.fixture
def boot(flash):
    """Power on a board whose flash holds `files` (name -> text); powered off after the test."""
    boards = []

    def power_on(files=None):
        for name, text in (files or {}).items():
            (flash / name).write_text(text)
        board = VirtualBoard(flash)
        board.start()
        boards.append(board)
        return board

    yield power_on
    for board in boards:
        board.stop()


def mpremote(board, *args, cwd=None):
    done = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", board.port, *args],
        capture_output=True,
        text=True,
        timeout=15,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def boots(flash):
    path = flash / "boots.txt"
    return path.read_text().split() if path.exists() else []


def terminal(board, data, until):
    """Type `data` on the board's serial line; return what it prints up to `until`."""
    fd = os.open(board.port, os.O_RDWR | os.O_NOCTTY)
    try:
        tty.setraw(fd)
        os.write(fd, data)
        out, end = b"", time.monotonic() + 5
        while until not in out and time.monotonic() < end:
            if select.select([fd], [], [], 0.05)[0]:
                out += os.read(fd, 4096)
        return out
    finally:
        os.close(fd)


def test_exec_and_eval_print_on_the_host(boot):
    board = boot()
    assert mpremote(board, "resume", "exec", "print('six times seven', 6 * 7)").strip() == (
        "six times seven 42"
    )
    assert mpremote(board, "resume", "eval", "sum(range(5))").strip() == "10"


def test_cp_round_trip_and_sha256sum(boot, flash, tmp_path):
    board = boot()
    data = bytes(range(256)) * 40 + os.urandom(2000)
    (tmp_path / "up.bin").write_bytes(data)
    mpremote(board, "cp", str(tmp_path / "up.bin"), ":data.bin")
    assert (flash / "data.bin").read_bytes() == data
    assert hashlib.sha256(data).hexdigest() in mpremote(board, "sha256sum", ":data.bin")
    mpremote(board, "cp", ":data.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == data


def test_fs_ls_mkdir_cat_rm(boot, flash):
    board = boot()
    (flash / "note.txt").write_text("hello")
    mpremote(board, "fs", "mkdir", ":logs")
    assert (flash / "logs").is_dir()
    listing = " ".join(mpremote(board, "fs", "ls", ":").split())
    assert "5 note.txt" in listing  # sizes, as littlefs lists them
    assert "0 logs/" in listing
    assert mpremote(board, "cat", ":note.txt") == "hello"
    mpremote(board, "fs", "rm", ":note.txt")
    assert not (flash / "note.txt").exists()


def test_files_stay_in_the_root_whose_layout_is_an_esp32s(boot, flash):
    (flash / "lib").mkdir()
    (flash / "lib" / "helper.py").write_text("VALUE = 7\n")
    board = boot()
    absolute = f"/vboard-{uuid.uuid4().hex}.txt"
    code = (
        f"import os, sys, helper; open({absolute!r}, 'w').write('a');"
        "open('relative.txt', 'w').write('r'); print(os.getcwd(), sys.path, helper.VALUE)"
    )
    assert mpremote(board, "resume", "exec", code).strip() == "/ ['', '.frozen', '/lib'] 7"
    assert (flash / absolute[1:]).read_text() == "a"
    assert (flash / "relative.txt").read_text() == "r"
    assert not os.path.exists(absolute)


def test_machine_stand_in_adds_what_an_esp32_has(boot):
    board = boot()
    code = "import machine; print(len(machine.unique_id()), machine.reset_cause(), machine.Signal)"
    assert mpremote(board, "resume", "exec", code).split() == ["6", "1", "<class", "'Signal'>"]


def test_main_runs_at_power_on_and_after_reset_not_on_plain_commands(boot, flash):
    board = boot({"main.py": COUNT_BOOTS})
    wait_for(lambda: boots(flash) == ["1"])  # PWRON_RESET
    mpremote(board, "reset")
    wait_for(lambda: boots(flash) == ["1", "2"])  # HARD_RESET
    assert mpremote(board, "exec", "print('soft')").strip() == "soft"
    mpremote(board, "soft-reset")
    assert boots(flash) == ["1", "2"]  # a soft reset from the raw REPL skips main.py


def test_plain_commands_soft_reset_and_resume_does_not(boot):
    board = boot()
    mpremote(board, "resume", "exec", "kept = 1")
    assert mpremote(board, "resume", "exec", "print('kept' in globals())").strip() == "True"
    assert mpremote(board, "exec", "print('kept' in globals())").strip() == "False"


def test_raw_repl_soft_reset_prints_what_a_board_prints(boot):
    board = boot()
    assert terminal(board, b"\r\x01", b"exit\r\n>").endswith(b"raw REPL; CTRL-B to exit\r\n>")
    out = terminal(board, b"\x04", b"\r\n>")
    assert out == b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>"
    assert terminal(board, b"print(7)\x04", b"\x04>") == b"OK7\n\x04\x04>"


def test_ctrl_d_at_the_friendly_prompt_soft_reboots_and_runs_main(boot, flash):
    board = boot({"main.py": COUNT_BOOTS + "print('main done')\n"})
    wait_for(lambda: boots(flash) == ["1"])
    # A command whose output is not in its echo: everything before its prompt is read here.
    assert terminal(board, b"print('rd' 'y')\r", b"rdy\n>>> ").endswith(b"rdy\n>>> ")
    out = terminal(board, b"\x04", b">>> ")
    assert out.startswith(b"\r\nMPY: soft reboot\r\nmain done\n")
    assert out.endswith(b">>> ")
    assert boots(flash) == ["1", "1"]  # a soft reset keeps the reset cause


def test_ctrl_c_interrupts_an_endless_main(boot, flash):
    board = boot({"main.py": "n = 0\nopen('started', 'w').close()\nwhile True:\n    n += 1\n"})
    wait_for((flash / "started").exists)
    # main.py's globals stay for the REPL, as on a board
    assert mpremote(board, "resume", "exec", "print('alive', n > 0)").strip() == "alive True"


def test_ctrl_c_at_an_idle_prompt_keeps_the_interpreter(boot, flash):
    board = boot()
    mpremote(board, "resume", "exec", "kept = 42")
    [pid] = interpreters(flash)
    terminal(board, b"\x03\r\x03", b">>> ")
    assert mpremote(board, "resume", "exec", "print(kept)").strip() == "42"
    assert interpreters(flash) == [pid]


def test_sys_exit_and_machine_reset_in_firmware_restart_the_board(boot, flash):
    main = COUNT_BOOTS + (
        "import sys\n"
        "n = len(open('boots.txt').read().split())\n"
        "if n == 1:\n    sys.exit()\n"
        "if n == 2:\n    machine.reset()\n"
    )
    board = boot({"main.py": main})
    wait_for(lambda: boots(flash) == ["1", "1", "2"])
    code = "import machine; print(machine.reset_cause())"
    assert mpremote(board, "resume", "exec", code).strip() == "2"


def test_a_killed_interpreter_comes_back_as_after_a_reset(boot, flash):
    board = boot({"main.py": COUNT_BOOTS})
    wait_for(lambda: boots(flash) == ["1"])
    [pid] = interpreters(flash)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: boots(flash) == ["1", "2"])
    assert mpremote(board, "resume", "eval", "1 + 1").strip() == "2"


def test_mount_serves_host_files_and_the_board_stays_confined(boot, flash, tmp_path):
    board = boot()
    host = tmp_path / "host"
    host.mkdir()
    (host / "h.txt").write_text("from host")
    code = "print(open('h.txt').read()); open('made.txt', 'w').write('1')"
    assert "from host" in mpremote(board, "mount", ".", "exec", code, cwd=host)
    assert (host / "made.txt").exists()
    mpremote(board, "resume", "exec", "open('after.txt', 'w').write('1')")
    assert (flash / "after.txt").exists()
    assert not (host / "after.txt").exists()


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def test_stop_leaves_no_process_thread_or_fd(flash):
    fds = open_fds()
    board = VirtualBoard(flash)
    board.start()
    assert interpreters(flash)
    board.stop()
    board.stop()
    assert interpreters(flash) == []
    assert "vboard" not in [thread.name for thread in threading.enumerate()]
    assert open_fds() == fds


def test_a_broken_interpreter_fails_start_with_one_line(flash):
    fds = open_fds()
    with pytest.raises(VirtualBoardError, match="Invalid command line arguments") as failed:
        VirtualBoard(flash, heap="lots").start()
    assert "\n" not in str(failed.value)
    assert open_fds() == fds
    with pytest.raises(VirtualBoardError, match="not found"):
        VirtualBoard(flash, micropython="no-such-micropython")
