"""The board the hardware-in-the-loop suite drives: the one on --port, else a virtual board
(the real firmware on the MicroPython Unix port behind a pty, reached through mpremote)."""

from __future__ import annotations

import pytest

from veil.sim.vboard import VirtualBoard


@pytest.fixture(scope="session")
def board_name(request) -> str:
    return request.config.getoption("--board") if request.config.getoption("--port") else "virtual"


@pytest.fixture(scope="module")
def port(request, tmp_path_factory):
    """A serial port with MicroPython on it (a virtual board lives for one test module)."""
    given = request.config.getoption("--port")
    if given:
        yield given
        return
    root = tmp_path_factory.mktemp("vboard")
    with VirtualBoard(root) as vb:
        yield vb.port


@pytest.fixture
def real_port(request):
    """Tests that need real sensors: skipped without --port."""
    given = request.config.getoption("--port")
    if not given:
        pytest.skip("needs a real board: give --port")
    return given
