"""`veil up`: one verb from a board on USB to its data flowing.

Each step says what it does and skips what is already done: find the port (`auto`: the one
whose USB serial chip is a supported board's), flash MicroPython only when the board has none
or an older one than the image at hand, deploy what changed of the firmware, create the home
key if the home has none, provision the device unless the board already holds exactly its
settings, then restart the board and follow its log.
"""

from __future__ import annotations

import ast
import hashlib
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..dataset import Series
from ..errors import VeilError
from ..owner.devices import Definition
from ..owner.home import Home
from ..progress import Progress, quiet
from .boardfile import BoardFile
from .deploy import build, check_machine, deploy
from .flash import cache_dir, cached_image, find_image
from .flash import flash as write_micropython
from .link import BoardLink
from .monitor import monitor
from .netconfig import Transport
from .ports import probe, resolve
from .provision import define_for_board, set_clock, stage
from .settingset import put_set

_VERSION = re.compile(r"-v(\d+)\.(\d+)\.(\d+)\.bin$")
BOOT_WAIT = 20  # seconds for a freshly flashed board to answer

# Prints {name: sha256 hex} of the settings files the board holds (the key is hashed on the
# board: it never leaves it).
_SETTINGS_HASHES = """\
import hashlib, binascii
_out = {}
for _n in %r:
    try:
        with open(_n, 'rb') as f:
            _out[_n] = binascii.hexlify(hashlib.sha256(f.read()).digest()).decode()
    except OSError:
        pass
print(repr(_out))
"""


def image_version(image: Path) -> tuple[int, int, int] | None:
    """The MicroPython release of an official image, from its name (…-v1.25.0.bin)."""
    m = _VERSION.search(image.name)
    return tuple(int(g) for g in m.groups()) if m else None  # type: ignore[return-value]


def _flash_if_needed(port, board, found, *, image, cache, download, baud, reset, say):
    """Flash when the board has no MicroPython, or one older than the image at hand (the one
    given, else the newest cached: no download just to compare). Returns what then runs."""
    if not board.flashable:
        if found.micropython is None:
            raise VeilError(
                f"no MicroPython answered on {port}, and board {board.name} cannot be flashed"
            )
        say(f"flash: {found.describe()}; board {board.name} is never flashed")
        return found
    if found.micropython is not None:
        check_machine(BoardLink(port), board)
        at_hand = image or cached_image(board, cache or cache_dir())
        newer = at_hand and image_version(at_hand)
        if not newer or newer <= found.micropython:
            say(f"flash: {found.describe()}, up to date: not flashed")
            return found
        say(f"flash: {found.describe()}, older than {at_hand.name}: flashing it")
        image = at_hand
    else:
        say(f"flash: no MicroPython answered on {port}: flashing it (erases the board)")
        image = find_image(board, image, cache or cache_dir(), download=download)
    write_micropython(
        board, port, image=image, cache=cache, download=download, baud=baud, reset=reset, out=None
    )
    end = time.monotonic() + BOOT_WAIT
    while (now := probe(port)).micropython is None:
        if time.monotonic() > end:
            raise VeilError(
                f"the board on {port} did not answer within {BOOT_WAIT} s after "
                "flashing: press its EN (reset) button, then run this again"
            )
    say(f"flash: done, {now.describe()}")
    return now


def _provision_if_needed(
    link: BoardLink, home: Home, definition: Definition, *, config, series, transport
) -> bool:
    """Write the device's settings unless the board holds exactly them (compared by hash, the
    key hashed on the board) and the home knows the device; True when written."""
    with tempfile.TemporaryDirectory(prefix="veil-up-") as tmp:
        names = stage(
            Path(tmp), home, config, profile=definition.profile, series=series, transport=transport
        )
        want = {n: hashlib.sha256((Path(tmp) / n).read_bytes()).hexdigest() for n in names}
        have = ast.literal_eval(link.exec(_SETTINGS_HASHES % (names,)).strip().splitlines()[-1])
        known = home.devices().get(definition.spec.device) == definition.spec
        if have == want and known:
            return False
        put_set(link, {n: Path(tmp) / n for n in names})
    definition.save(home)
    return True


def up(
    port: str,
    home: Home,
    device: str,
    *,
    board: BoardFile,
    series: Series | None = None,
    k: int | None = None,
    epoch: int | None = None,
    tz: int | None = None,
    period_ms: int | None = None,
    log_every: int = 1000,
    profile: dict | None = None,
    replace: bool = False,
    weak_decoys: bool = False,
    transport: Transport | None = None,
    image: Path | None = None,
    cache: Path | None = None,
    download: bool = True,
    baud: int | None = None,
    reset: bool = True,
    follow: bool = True,
    duration: float | None = None,
    until: str | None = None,
    out: Callable[[str], None] = print,
    say: Callable[[str], None] = print,
    progress: Progress = quiet,
    comports: Callable[[], Iterable] | None = None,
) -> Definition:
    """Bring `device` of `home` up on the `board` at `port` (or `auto`), publishing the
    recorded `series` (any board) or else the board file's sensors; each step is said to
    `say` and reported to `progress`, the board's log goes to `out` (as `veil monitor`, for
    `duration` seconds or `until` a line matches). Returns the device's definition."""
    progress("find the board")
    port, found_port = resolve(port, board, comports=comports)
    if found_port:
        say(f"port: auto found {found_port.label()}")
    found = probe(port)
    progress("flash")
    found = _flash_if_needed(
        port,
        board,
        found,
        image=image,
        cache=cache,
        download=download,
        baud=baud,
        reset=reset,
        say=say,
    )
    progress("deploy")
    link = BoardLink(port)
    with tempfile.TemporaryDirectory(prefix="veil-bundle-") as tmp:
        res = deploy(link, build(Path(tmp)))
    if res.copied or res.removed:
        say(
            f"firmware: copied {len(res.copied)} of {res.bundle_files} files, removed "
            f"{len(res.removed)}, verified"
        )
    else:
        say(f"firmware: up to date ({res.bundle_files} files, verified)")
    progress("home key")
    if home.key_path.exists():
        home.key()  # a key too widely readable fails here
        say(f"home key: {home.key_path}")
    else:
        fp = home.keygen()
        say(
            f"home key: {home.path} had none, created {home.key_path} (mode 0600, fingerprint "
            f"{fp}); keep a backup: without it the real data cannot be recovered"
        )
    progress("provision")
    definition, config, sensors = define_for_board(
        home, device, board=board, series=series, k=k, epoch=epoch, tz=tz,
        period_ms=period_ms, log_every=log_every, profile=profile, replace=replace,
        weak_decoys=weak_decoys, transport=transport,
    )  # fmt: skip
    spec = definition.spec
    what = f"{device} (k={spec.k}, epoch {spec.epoch}, {', '.join(c.name for c in spec.channels)})"
    if _provision_if_needed(
        link, home, definition, config=config, series=series, transport=transport
    ):
        say(f"provision: wrote {what}")
    else:
        say(f"provision: the board already holds {what}")
    if sensors:
        set_clock(link)
    if not follow:
        say(f"start it with: veil monitor {port} --reset")
        return definition
    progress("start", 1, 1)  # the log that follows is the progress from here on
    say(f"start: restarting the board on {port}, its log follows (Ctrl-C to stop)")
    monitor(port, out, secrets=home.secrets(), reset=True, duration=duration, until=until)
    return definition
