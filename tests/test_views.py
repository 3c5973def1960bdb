"""views.png: each channel in its unit, on/off channels as steps in one lane per track, the
time axis labelled, and a legend naming every track and the real readings."""

from __future__ import annotations

import matplotlib.pyplot as plt

from veil.feed import read_feed
from veil.owner.decode import decode
from veil.sim.views import figure, two_views

from conftest import run_firmware


def test_units_steps_time_and_legend(home, tmp_path, room_series):
    spec, _log = run_firmware(home, tmp_path / "board", room_series)
    items = list(read_feed(tmp_path / "board" / "feed.jsonl"))
    readings, _report = decode(home.keys(), {spec.device: spec}, items)
    records = [rec for _origin, rec in items]
    fig = figure(spec, platform=records, readings=readings)
    try:
        rows = fig.axes[0::2]
        assert [ax.get_ylabel() for ax in rows] == [
            "S1_Temp\n(°C)", "S1_Light\n(lux)", "S5_CO2\n(ppm)", "S6_PIR\n(on/off)",
        ]  # fmt: skip
        pir_left, pir_right = fig.axes[-2:]
        assert all(line.get_drawstyle() == "steps-post" for line in pir_left.lines)
        assert len(pir_left.lines) == spec.k  # one lane per track
        labels = [t.get_text() for t in pir_left.get_yticklabels()]
        assert labels[:2] == ["track 0 off", "on"] and len(labels) == 2 * spec.k
        assert [t.get_text() for t in pir_right.get_yticklabels()] == ["off", "on"]
        assert pir_left.get_xlabel() == pir_right.get_xlabel() == "time (UTC)"
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert legend == [f"track {t}" for t in range(spec.k)] + ["your real readings"]
        assert fig.legends[0].get_texts()[0].get_fontsize() >= 10
    finally:
        plt.close(fig)
    two_views(tmp_path / "v.png", spec, platform=records, readings=readings)
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"
