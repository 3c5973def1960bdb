"""`veil demo`: the whole story on embedded defaults, from a board to the owner's screen.

Recorded home data (shipped in veil/sim/data) replays on the virtual board running the real
firmware; the spooled feed is ingested into SQLite as a platform would, without a key; the
owner decodes it with the key, checks every recovered reading against the source, and gets a
picture of both views. The decoy profile is fitted on the weeks before (the home's history)
and the board replays the last two days: the picture shows fakes made for readings their
model never saw, as a board's are. (The shipped office data holds one day with people in:
too little history for fakes that live as its people do, so it is not the demo's.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import dataset
from ..owner.columns import BATCH, Layouts, store_batches, tallied
from ..owner.decode import Reading, Report, decode, write_csv
from ..owner.home import Home
from ..platform.ingest import IngestResult, ingest_file
from ..platform.store.sqlite import SqliteStore
from ..privacy.profile import fit_series
from ..progress import Progress, lines_in, quiet
from .replay import simulate
from .views import two_views

DATA = Path(__file__).resolve().parent / "data" / "appliances_home.csv"
CHANNELS = ["T2", "RH_2", "lights"]  # the living room, and the house's light use
UNITS = {"lights": "Wh"}  # energy used by the lights each 10 minutes, not a light level
DEVICE = "living"
REPLAY_DAYS = 2


@dataclass
class DemoResult:
    out: Path
    rows: int
    ingest: IngestResult
    readings: list[Reading]
    report: Report
    exact: int
    mismatches: list[str]


def compare(series: dataset.Series, readings: list[Reading]) -> tuple[int, list[str]]:
    """How many source rows came back bit-exact (time and every value, gaps included)."""
    exact = 0
    problems = []
    for i, t in enumerate(series.times):
        if i >= len(readings):
            problems.append(f"row {i + 2}: not recovered")
            continue
        r = readings[i]
        want = series.rows[i]
        got = [None if r.mask >> j & 1 else n for j, n in enumerate(r.values)]
        if r.ts == t and got == want:
            exact += 1
        elif len(problems) < 5:
            problems.append(f"row {i + 2}: source {t} {want}, decoded {r.ts} {got}")
    if len(readings) > len(series.times):
        problems.append(f"{len(readings) - len(series.times)} readings more than the source")
    return exact, problems


def split_days(series: dataset.Series, rows: int | None) -> tuple[dataset.Series, ...]:
    """The demo's history (every day of `series` before its last REPLAY_DAYS) and those days
    (their first `rows`) to replay: the board publishes readings its decoy model was not
    fitted on."""
    days = [t // 86400 for t in series.times]
    shown = sorted(set(days))[-REPLAY_DAYS:]
    replay = [i for i, d in enumerate(days) if d in shown][:rows]
    history = [i for i, d in enumerate(days) if d < shown[0]]

    def part(at: list[int]) -> dataset.Series:
        return dataset.Series(
            [series.times[i] for i in at], series.channels, [series.rows[i] for i in at]
        )

    return part(history), part(replay)


def run_demo(
    out: Path, *, k: int = 4, rows: int | None = None, progress: Progress = quiet
) -> DemoResult:
    """The demo in `out`, each step reported to `progress` (veil.progress): the replay's own,
    then ingest, decode and plot."""
    out.mkdir(parents=True, exist_ok=True)
    home = Home(out / "home")
    if not home.key_path.exists():
        home.keygen()
    feed = out / "feed.jsonl"
    db = out / "platform.db"
    for stale in (feed, db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)

    history, series = split_days(dataset.load(DATA, channels=CHANNELS), rows)
    progress("fit the decoys on the weeks before")
    profile = fit_series(history)
    simulate(
        series,
        home,
        DEVICE,
        feed_out=feed,
        k=k,
        profile=profile,
        replace=True,
        progress=progress,
    )
    specs = home.devices()
    with SqliteStore(db) as store:
        ingested = ingest_file(store, feed, progress=progress)
        batches = store_batches(Layouts(specs), store.columns(BATCH))
        batches = tallied(batches, progress, "decode", lines_in(feed))
        readings, report = decode(home.keys(), specs, batches)
        progress("plot")
        two_views(
            out / "views.png",
            specs[DEVICE],
            platform=store.records(),
            readings=readings,
            units=UNITS,
        )
    write_csv(out / "real.csv", readings, specs)
    exact, mismatches = compare(series, readings)
    return DemoResult(out, len(series.times), ingested, readings, report, exact, mismatches)
