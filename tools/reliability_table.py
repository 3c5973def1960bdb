"""The table of docs/reliability.md, from the figures the fault and hostile-input tests record.

    VEIL_FIGURES=/tmp/figures.jsonl python -m pytest tests
    python tools/reliability_table.py /tmp/figures.jsonl

Each line of the file is one test's figures (tests/conftest.py `figures`); a test that ran more
than once (parametrised) gives one row per run. Empty cells: the test does not measure that.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = ("sent", "stored", "quarantined", "recovered", "lost", "duplicated")


def main() -> None:
    text = Path(sys.argv[1]).read_text()
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    print("| fault or hostile input | " + " | ".join(COLUMNS) + " | notes | test |")
    print("| --- |" + " ---: |" * len(COLUMNS) + " --- | --- |")
    for r in rows:
        cells = [f"{r[c]:,}" if isinstance(r.get(c), int) else str(r.get(c, "")) for c in COLUMNS]
        test = r["test"].split("::", 1)
        name = f"`{test[0].removeprefix('tests/')}` {test[1]}" if len(test) == 2 else r["test"]
        print(f"| {r['fault']} | " + " | ".join(cells) + f" | {r.get('notes', '')} | {name} |")


if __name__ == "__main__":
    main()
