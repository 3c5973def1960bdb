"""Run the README's walk-through as written, block by block, and report the longest silence
of each: the time it printed nothing (tools/silence.py measures).

    python tools/walkthrough.py CLONE [--tty] [--skip N ...]

CLONE is a fresh clone of the repository; the blocks run there in order with bash, each one
after the venv of the first block is active and the variables of earlier blocks are set.
Blocks that need a board on USB (their commands name /dev/tty… or `auto`) are left out, and
so is the test suite's block unless asked for. Exits non-zero when a block fails.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from silence import gaps, run


def blocks(readme: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", readme, re.S)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clone", type=Path)
    ap.add_argument("--tty", action="store_true", help="run each block on a pseudo-terminal")
    ap.add_argument("--tests", action="store_true", help="also run the test suite's block")
    args = ap.parse_args()
    readme = (args.clone / "README.md").read_text()
    prelude = "set -e\ncd " + str(args.clone.resolve()) + "\n"
    worst, failed = 0.0, False
    for n, block in enumerate(blocks(readme), 1):
        if re.search(r"/dev/tty|\bauto\b", block) or ("pytest" in block and not args.tests):
            print(f"block {n}: skipped (needs a board, or is the test suite)")
            continue
        script = prelude + block
        code, events = run(["bash", "-c", script], args.tty)
        longest, when, text = gaps(events)[0]
        clean = " ".join(text.replace("\r", " ").split())[:60]
        first = block.strip().splitlines()[0][:60]
        print(f"block {n} ({first}): exit {code}, {events[-1][0]:.0f} s, longest silence "
              f"{longest:.1f} s (until {when:.0f} s: {clean!r})")  # fmt: skip
        worst = max(worst, longest)
        failed |= code != 0
        if "activate" in block:
            prelude += ". .venv/bin/activate\n"
        prelude += "".join(f"{m}\n" for m in re.findall(r"^\w+=\S.*$", block, re.M))
    print(f"longest silence of the walk-through: {worst:.1f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
