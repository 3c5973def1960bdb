"""Progress: the library names each phase of a long job; the CLI's Reporter shows it as a bar
with an ETA on a terminal and as a line every few seconds in a log."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

from veil.cli.options import Reporter
from veil.dataset import load
from veil.progress import tally
from veil.sim.demo import run_demo
from veil.sim.replay import simulate

from conftest import ROOM, wait_for


class Phases:
    """A Progress that keeps what it was told."""

    def __init__(self):
        self.calls = []

    def __call__(self, phase, done=0, total=None):
        self.calls.append((phase, done, total))

    def names(self):
        return list(dict.fromkeys(c[0] for c in self.calls))


def test_sim_names_every_phase_and_counts_the_replay(home, tmp_path):
    seen = Phases()
    series = load(ROOM, channels=["S5_CO2"], limit=60)
    simulate(series, home, "p1", feed_out=tmp_path / "f.jsonl", progress=seen)
    assert seen.names() == [
        "start the virtual board", "copy the firmware", "provision", "replay",
        "copy the feed off the board",
    ]  # fmt: skip
    replay = [c for c in seen.calls if c[0] == "replay"]
    assert replay[0] == ("replay", 0, 60) and replay[-1] == ("replay", 60, 60)


def test_demo_names_ingest_decode_and_plot(tmp_path):
    seen = Phases()
    run_demo(tmp_path / "demo", rows=40, progress=seen)
    assert seen.names()[-3:] == ["ingest", "decode", "plot"]
    assert ("ingest", 160, 160) in seen.calls and ("decode", 160, 160) in seen.calls


def test_tally_counts_a_stream_into_its_phase():
    seen = Phases()
    assert list(tally(range(2500), seen, "read", 2500)) == list(range(2500))
    assert seen.calls == [("read", 0, 2500), ("read", 1000, 2500), ("read", 2000, 2500),
                          ("read", 2500, 2500)]  # fmt: skip


def test_in_a_log_a_long_phase_gets_a_line_with_its_eta(capsys):
    lines = []
    with Reporter(tty=False, after=0.05, every=0.2) as progress:
        progress("quick", 1, 1)  # finished at once: never shown
        progress("replay", 0, 100)
        progress("replay", 25, 100)
        wait_for(lambda: lines.extend(capsys.readouterr().err.splitlines()) or len(lines) >= 2)
        progress("copy")
        wait_for(lambda: lines.extend(capsys.readouterr().err.splitlines()) or len(lines) >= 4)
    lines += capsys.readouterr().err.splitlines()
    assert lines[0].startswith("replay: 25/100 (25%), about ") and lines[0].endswith(" s left")
    assert lines[1].startswith("replay: 25/100 (25%)")
    assert lines[2].startswith("replay: done in ")
    assert lines[3].startswith("copy: ") and lines[3].endswith(" s so far")
    assert lines[-1].startswith("copy: done in ")
    assert not any("quick" in line for line in lines)


def test_nothing_shows_before_the_first_report(capsys):
    with Reporter(tty=False, after=0.0, every=0.01):
        pass
    assert capsys.readouterr().err == ""


def test_on_a_terminal_each_phase_is_a_bar_with_an_eta(tmp_path):
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [sys.executable, "-m", "veil.cli", "demo", "--rows", "200", "--dir", "d"],
        cwd=tmp_path, stdin=slave, stdout=slave, stderr=slave,
        env=dict(os.environ, COLUMNS="120", TERM="xterm"),
    )  # fmt: skip
    os.close(slave)
    out = b""
    end = time.monotonic() + 120
    while select.select([master], [], [], max(0, end - time.monotonic()))[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert p.wait(timeout=60) == 0
    text = out.decode(errors="replace")
    for phase in ("replay", "copy the feed off the board", "ingest", "decode", "plot"):
        assert phase in text
    assert "200/200" in text and "ETA" in text
    assert "owner recovered 200/200 real readings" in text
