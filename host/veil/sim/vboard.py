"""A virtual ESP32: the MicroPython Unix port behind a pseudo-terminal, driven by the real mpremote.

The Unix port is not a board: it exits where a board soft-resets, ignores Ctrl-C arriving as a
byte, has no machine.reset() and sees the whole host filesystem. A bridge thread between two ptys
hides that. It restarts the interpreter and prints what a board prints, turns Ctrl-C into SIGINT
while code runs, and a bootstrap confines the filesystem to a root folder and runs boot.py and
main.py. mpremote talks to `port` as to a board on a serial line.

The root is the board's flash and holds its key: it is made 0700 and the interpreter runs with
umask 077, so that what the board writes (key.bin, secrets.json) is 0600 (veil.private). The
interpreter is started by the bridge thread and dies with it (PR_SET_PDEATHSIG), so a host
process killed with SIGKILL leaves no board running behind it.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import termios
import threading
import tty

from veil.errors import VeilError
from veil.private import private_dir, scratch

HARD_RESET_EXIT = 0xB0  # exit status of the stand-in machine.reset(): a hard, not a soft, reset
PWRON_RESET, HARD_RESET = 1, 2  # machine.reset_cause() values, as on an ESP32
RX_BUFFER = 64 * 1024  # bytes held for a busy interpreter; more are lost, as a UART would
BOOT_DEADLINE = 10  # seconds MicroPython may take to start
STOP_DEADLINE = 10  # seconds the bridge may take to end
PR_SET_PDEATHSIG = 1  # prctl(2): a signal for the child when the thread that forked it ends

# The Unix port's REPL banner; a reset that resumes the raw REPL hides it, as a board shows none.
BANNER = re.compile(rb'MicroPython [^\r\n]*\r\nType "help\(\)" for more information\.\r\n>>> ')
RAW_BANNER = re.compile(BANNER.pattern + rb"\r\n(?=raw REPL)")
RAW_MARK = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_MARK = b'Type "help()" for more information.\r\n'

MACHINE_PY = f"""\
# ESP32 functions the Unix port's machine module lacks; the rest is the built-in module.
from umachine import *

PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
_cause = PWRON_RESET
_uid = bytes(6)


def reset():
    raise SystemExit({HARD_RESET_EXIT})  # the bridge restarts the interpreter as after power-on


def unique_id():
    return _uid


def reset_cause():
    return _cause
"""

BOOT_PY = """\
# Power-on of the virtual board: confine files to the root, then run boot.py and main.py.
import io, machine, micropython, os, sys

del sys.modules["__main__"], sys.modules["_vboard_boot"]
import __main__  # now the built-in one: the REPL's globals, which boot.py and main.py share

root, mode, cause, uid = sys.argv[1:]
machine._cause, machine._uid = int(cause), bytes.fromhex(uid)
sys.argv.clear()
sys.path[:] = ["", ".frozen", "/lib"]


class Flash:  # VfsPosix(root), listing file sizes as littlefs does (a subclass breaks imports)
    def __init__(self, root):
        self.fs = os.VfsPosix(root)

    def __getattr__(self, name):
        return getattr(self.fs, name)

    def ilistdir(self, path):
        for e in self.fs.ilistdir(path):
            yield e + (0 if e[1] == 0x4000 else self.fs.stat((path or ".") + "/" + e[0])[6],)


os.umount("/")
os.mount(Flash(root), "/")


def run(name):
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return
    try:
        exec(compile(src, name, "exec"), __main__.__dict__)
    except (Exception, KeyboardInterrupt) as e:  # print it as a board does: without this frame
        out = io.StringIO()
        sys.print_exception(e, out)
        print("\\n".join(s for s in out.getvalue().split("\\n") if "_vboard_boot" not in s), end="")


os.chdir("/")  # last step: the bridge holds back an early Ctrl-C until the cwd moves
try:
    run("boot.py")
    if mode == "friendly":
        run("main.py")
except KeyboardInterrupt:
    pass
micropython.kbd_intr(-1)  # idle REPL: Ctrl-C is a byte again
os.putenv("MICROPYINSPECT", "1")  # now the REPL; a SystemExit above ends the process instead
"""


class VirtualBoardError(VeilError):
    """The virtual board could not be started."""


def virtual_heap() -> int:
    """The heap the virtual board file (boards/virtual.toml) declares, in bytes."""
    from veil.boards.boardfile import load

    return load("virtual").heap


class VirtualBoard:
    """Context manager. `root` is the board's flash filesystem; `port` is valid after start()."""

    def __init__(self, root, *, micropython=None, heap=None):
        """`heap` is MicroPython's heap size (-X heapsize), by default the one the virtual
        board file declares: what an ESP32 holds, in the Unix port's larger objects."""
        heap = heap or virtual_heap()
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise VirtualBoardError(f"board root is not a folder: {root}")
        private_dir(self.root)  # the board's flash holds its key
        search = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
        command = micropython or "micropython"
        exe = shutil.which(command, path=search)
        if not exe:
            raise VirtualBoardError(f"MicroPython Unix port not found: {command}")
        self._uid = hashlib.sha256(self.root.encode()).hexdigest()[:12]  # machine.unique_id()
        # SIGINT stays ignored until micropython installs its handler: a Ctrl-C sent while the
        # wrapper starts must not kill it, and /proc then tells exactly when code is interruptible.
        self._cmd = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", exe, "-X", f"heapsize={heap}"]
        self._cmd += ["-m", "_vboard_boot", self.root]
        self.port = None
        self.deaths: list[int] = []  # signals that killed the interpreter (it then reset)
        self._thread = self._proc = self._private = None
        self._scratch = contextlib.ExitStack()
        self._fds = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> str:
        """Power on: boot.py and main.py run, then the friendly REPL. Returns the pty path."""
        if self._thread:
            raise VirtualBoardError("virtual board already started")
        try:
            self._private = os.path.realpath(self._scratch.enter_context(scratch("vboard")))
            for name, text in (("machine.py", MACHINE_PY), ("_vboard_boot.py", BOOT_PY)):
                with open(os.path.join(self._private, name), "w") as f:
                    f.write(text)
            self._host_fd, host_tty = pty.openpty()
            self._child_fd, self._child_tty = pty.openpty()
            self._wake_r, self._wake_w = os.pipe()
            self._fds = [self._host_fd, self._child_fd, self._child_tty, self._wake_r, self._wake_w]
            for fd in (self._host_fd, host_tty, self._child_fd, self._child_tty):
                tty.setraw(fd)
            self.port = os.ttyname(host_tty)
            os.close(host_tty)  # with no slave open the master reports POLLHUP: no host attached
            os.set_blocking(self._host_fd, False)
            os.set_blocking(self._child_fd, False)
            self._host_open, self._to_host, self._stopping = False, bytearray(), False
            self._ready, self._failure = threading.Event(), None
        except OSError as e:
            self.stop()
            raise VirtualBoardError(f"cannot start the virtual board: {e}") from e
        self._thread = threading.Thread(target=self._bridge, name="vboard", daemon=True)
        self._thread.start()
        if not self._ready.wait(BOOT_DEADLINE) or self._failure:
            failure = self._failure or f"MicroPython did not boot within {BOOT_DEADLINE} s"
            self.stop()
            raise VirtualBoardError(failure)
        return self.port

    def stop(self):
        """Power off: end the bridge, kill the interpreter's process group, close every fd."""
        if self._thread:
            self._stopping = True
            os.write(self._wake_w, b"\0")
            self._thread.join(STOP_DEADLINE)
            self._thread = None
        if self._proc:
            self._reap()
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        self._scratch.close()
        self._private = None

    def _spawn(self, raw, cause):
        """Start the interpreter; a raw-REPL reset queues Ctrl-A so it resumes the raw REPL."""
        termios.tcflush(self._child_tty, termios.TCIFLUSH)  # a reset loses what sat in the UART
        self._to_child = bytearray(b"\x01" if raw else b"")
        self._raw, self._cause, self._held, self._mode_tail = raw, cause, b"", b""
        self._booting, self._up, self._pending_intr = True, False, False
        mode = "raw" if raw else "friendly"
        self._proc = subprocess.Popen(
            [*self._cmd, mode, str(cause), self._uid],
            stdin=self._child_tty,
            stdout=self._child_tty,
            stderr=self._child_tty,
            cwd=self._private,
            start_new_session=True,
            umask=0o077,
            preexec_fn=_die_with_parent,
        )
        self._pidfd = os.pidfd_open(self._proc.pid)

    def _reap(self):
        """Kill what is left of the interpreter's process group; returns its exit status."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        code = self._proc.wait()
        os.close(self._pidfd)
        self._proc = None
        return code

    def _bridge(self):
        """Start the interpreter, then copy bytes between the ptys until stop(), restarting it
        when it exits. Every interpreter is this thread's child: it dies when the thread does."""
        try:
            self._spawn(raw=False, cause=PWRON_RESET)
        except OSError as e:
            self._failure = f"cannot start MicroPython: {e}"
            self._ready.set()
            return
        while self._proc and not self._stopping:
            if not self._host_open:
                self._host_open = not _hung_up(self._host_fd)
            poller = select.poll()
            poller.register(self._wake_r, select.POLLIN)
            poller.register(self._pidfd, select.POLLIN)
            child_events = (0 if self._to_host else select.POLLIN) | (
                select.POLLOUT if self._to_child else 0
            )
            if child_events:  # not reading the child while the host lags is the UART's pace
                poller.register(self._child_fd, child_events)
            if self._host_open:
                host_out = select.POLLOUT if self._to_host else 0
                poller.register(self._host_fd, select.POLLIN | host_out)
            watching = not (self._host_open and self._up)
            for fd, events in poller.poll(10 if watching else None):
                if fd == self._pidfd:
                    self._child_exited()
                    break
                if fd == self._child_fd:
                    if events & select.POLLOUT:
                        self._write(self._child_fd, self._to_child)
                    if events & select.POLLIN:
                        self._from_child(_read_now(self._child_fd))
                elif fd == self._host_fd:
                    if events & select.POLLOUT:
                        self._write(self._host_fd, self._to_host)
                    if events & ~select.POLLOUT:
                        self._from_host()
            if self._proc and not self._up:
                self._check_up()

    @staticmethod
    def _write(fd, buf):
        """Write what the pty takes now; the rest waits for POLLOUT."""
        with contextlib.suppress(BlockingIOError):
            del buf[: os.write(fd, buf)]

    def _from_host(self):
        """Bytes from the host: Ctrl-C becomes SIGINT while code runs, the rest goes on."""
        try:
            data = os.read(self._host_fd, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: the host closed the port
            data = b""
        if not data:
            self._host_open = False
            self._to_host.clear()
            return
        for i, part in enumerate(data.split(b"\x03")):
            if i:
                self._ctrl_c()
            self._to_child += part
        del self._to_child[RX_BUFFER:]
        self._write(self._child_fd, self._to_child)

    def _ctrl_c(self):
        """Interrupt running code as a board's UART does; at an idle prompt pass the byte on."""
        if not self._up:
            self._check_up()
        if not self._up:
            self._pending_intr = True  # the interpreter is still starting: deliver once it runs
        elif self._interruptible():
            os.kill(self._proc.pid, signal.SIGINT)
        else:
            self._to_child += b"\x03"

    def _interruptible(self):
        """True while micropython runs code with its SIGINT handler installed (kbd_intr on)."""
        try:
            with open(f"/proc/{self._proc.pid}/status") as f:
                caught = next(line for line in f if line.startswith("SigCgt:"))
        except (OSError, StopIteration):
            return False
        return bool(int(caught.split()[1], 16) & 1 << (signal.SIGINT - 1))

    def _check_up(self):
        """The bootstrap is up, and can take a Ctrl-C, once it has chdir'd from its start folder."""
        try:
            started = os.readlink(f"/proc/{self._proc.pid}/cwd") != self._private
        except OSError:
            return
        if started:
            pending = self._pending_intr
            self._set_up()
            if pending:
                self._ctrl_c()

    def _set_up(self):
        """Booted far enough for start() to return and for Ctrl-C to be handled directly."""
        self._up, self._pending_intr = True, False
        self._ready.set()

    def _from_child(self, data):
        """Output of the interpreter: hide the banner of a raw-REPL reset, track the REPL mode."""
        if self._booting:
            self._held += data
            banner = (RAW_BANNER if self._raw else BANNER).search(self._held)
            if banner:
                self._booting = False
                self._set_up()
                if self._raw:
                    data = self._held[: banner.start()] + self._held[banner.end() :]
            elif self._raw:
                return
            self._held = self._held[-256:]
        self._emit(data)

    def _emit(self, data):
        """Send board output to the host (dropped when none is attached), noting the REPL mode."""
        tail = self._mode_tail + data
        raw, friendly = tail.rfind(RAW_MARK), tail.rfind(FRIENDLY_MARK)
        if raw != friendly:
            self._raw = raw > friendly
        self._mode_tail = tail[-len(FRIENDLY_MARK) :]
        if self._host_open:
            self._to_host += data
            self._write(self._host_fd, self._to_host)

    def _child_exited(self):
        """Behave as a board that resets: soft reset on exit, hard on machine.reset() or a crash."""
        while data := _read_now(self._child_fd):
            self._from_child(data)
        if self._booting and self._raw:
            self._emit(self._held)  # boot.py output of a raw-REPL reset cut short
        code = self._reap()
        if code < 0:
            self.deaths.append(-code)
        if not self._ready.is_set() and code not in (0, HARD_RESET_EXIT):
            output = " ".join(self._held.decode(errors="replace").split())
            self._failure = f"MicroPython exited with status {code}: {output}"
            self._ready.set()
            return
        hard = code < 0 or code == HARD_RESET_EXIT
        if not hard:
            self._emit(b"MPY: soft reboot\r\n")
        self._spawn(raw=self._raw and not hard, cause=HARD_RESET if hard else self._cause)


_prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before any fork


def _die_with_parent():
    """In the child, before exec: SIGKILL when the bridge thread (its parent) ends."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _hung_up(fd):
    """True when no one has the pty's slave open: nobody is listening to the board."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(events & select.POLLHUP for _, events in poller.poll(0))


def _read_now(fd):
    """What the non-blocking fd holds now (b"" if nothing)."""
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


def main(argv=None):
    """`python -m veil.sim.vboard ROOT`: print the board's pty path, run until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m veil.sim.vboard", description=main.__doc__)
    parser.add_argument("root", help="folder that is the board's filesystem")
    parser.add_argument("--micropython", help="MicroPython Unix port command")
    parser.add_argument("--heap", help="MicroPython heap size (default: boards/virtual.toml's)")
    args = parser.parse_args(argv)
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    try:
        with VirtualBoard(args.root, micropython=args.micropython, heap=args.heap) as board:
            print(board.port, flush=True)
            done.wait()
    except VirtualBoardError as e:
        sys.exit(f"vboard: {e}")


if __name__ == "__main__":
    main()
