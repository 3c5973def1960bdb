"""oneM2M over HTTP/1.1: every record becomes a contentInstance in a oneM2M CSE.

Resources: one AE per device (resource name = device id, originator `origin`, default
"Cveil-<device>": AE originators start with C or S), one container per track ("t0" … "t<k-1>",
created alike and in track order at every connection, so their names and history say nothing
about which track is real) and one contentInstance per record, its content the record's JSON
text and its name "<ep>-<boot>-<seq>". The name makes a create idempotent: a record sent again
after a lost answer gets 409 "already exists" from the CSE, which counts as delivered, so the
CSE stores each record once (docs/transports.md).

Our own client rather than MicroPython's `requests`: `requests` opens a new connection per
request and builds strings, dicts and a response object for each; ESP32 images may not
freeze it. Here one keep-alive connection carries up to `window` pipelined requests (HTTP/1.1
answers in order), every request is built into one preallocated buffer, and answers are parsed
byte by byte into a fixed line buffer. The same code runs on the ESP32 and the Unix port.
"""

import select
import time

from micropython import const

from . import net
from .proto import put, put_uint

_HEAD = const(0)
_BODY = const(1)
_CREATED = const(2001)
_EXISTS = const(4105)
_REGISTERED = const(4117)  # an AE originator that already registered (its AE exists)
_QUOTE = const(34)
_BACKSLASH = const(92)


def _digits_at(line, pos, end):
    """The decimal number at line[pos:end] after spaces (0 if none)."""
    while pos < end and line[pos] == 32:
        pos += 1
    n = 0
    while pos < end and 48 <= line[pos] <= 57:
        n = n * 10 + line[pos] - 48
        pos += 1
    return n


def _named(line, end, name):
    """Does the header line start with `name` (lower case, with its colon), in any case?"""
    if end < len(name):
        return False
    for i in range(len(name)):
        if line[i] | 0x20 != name[i]:
            return False
    return True


class Responses:
    """HTTP/1.1 responses parsed as their bytes arrive, without allocating: the status code,
    the X-M2M-RSC header and Connection: close are kept, Content-Length bytes of body skipped.
    `feed(buf, n)` calls `done(code, rsc, close)` for every complete response."""

    def __init__(self, done):
        self.done = done
        self.line = bytearray(96)
        self.reset()

    def reset(self):
        self.state = _HEAD
        self.fill = 0
        self.first = True
        self.code = self.rsc = self.length = self.left = 0
        self.close = False

    def feed(self, buf, n):
        i = 0
        line = self.line
        while i < n:
            if self.state == _BODY:
                take = min(self.left, n - i)
                i += take
                self.left -= take
                if not self.left:
                    self._end()
                continue
            c = buf[i]
            i += 1
            if c == 10:
                self._header()
            elif c != 13 and self.fill < len(line):
                line[self.fill] = c
                self.fill += 1

    def _header(self):
        line, end = self.line, self.fill
        self.fill = 0
        if self.first:
            if not _named(line, end, b"http/1."):
                raise OSError("not an HTTP answer from the CSE")
            self.first = False
            self.code = _digits_at(line, 8, end)
        elif not end:
            if self.length:
                self.state = _BODY
                self.left = self.length
            else:
                self._end()
        elif _named(line, end, b"x-m2m-rsc:"):
            self.rsc = _digits_at(line, 10, end)
        elif _named(line, end, b"content-length:"):
            self.length = _digits_at(line, 15, end)
        elif _named(line, end, b"connection:"):
            i = 11
            while i < end and line[i] == 32:
                i += 1
            self.close = i < end and line[i] | 0x20 == 99  # "close" (or keep-alive, upgrade)

    def _end(self):
        code, rsc, close = self.code, self.rsc, self.close
        self.reset()
        self.done(code, rsc, close)


class Client:
    """Creates the contentInstances of one device; the client shape of veil.forward. `nums[i]`
    is the outbox number in flight in slot i (-1: free); answers come back in the order the
    requests went out, kept in the ring `_order`. Every `views[i]` is the same staging buffer:
    `send()` turns the record into its request at once, and a record to send again is read
    from the outbox again."""

    def __init__(self, opts, dev, size, k):
        self.host = opts["host"]
        self.port = opts.get("port", 80)
        self.timeout = opts.get("timeout_s", 10)
        self.ack_ms = opts.get("ack_timeout_ms", 10000)
        self.window = opts.get("window", 8)
        self.k = k
        path = opts.get("path", "/cse").encode()
        self._ae = opts.get("ae", dev.decode()).encode()
        origin = opts.get("origin", "Cveil-" + dev.decode()).encode()
        common = b" HTTP/1.1\r\nHost: %s:%d\r\nX-M2M-Origin: %s\r\nX-M2M-RVI: 3\r\nX-M2M-RI: " % (
            self.host.encode(),
            self.port,
            origin,
        )
        self._base = path
        self._common = common
        self._cin = b"POST " + path + b"/" + self._ae + b"/t"
        self._cin2 = b"?rcn=0" + common
        self._cin3 = b"\r\nContent-Type: application/json;ty=4\r\nContent-Length: "
        self._body1 = b'{"m2m:cin":{"rn":"'
        self._body2 = b'","cnf":"application/json:0","con":"'
        self._body3 = b'"}}'
        self._ep_at = len(b'{"v":1,"dev":"') + len(dev) + len(b'","ep":')
        record = size - 1  # without its newline
        self._stage = bytearray(record)
        stage = memoryview(self._stage)
        self.views = [stage] * self.window
        fixed = len(self._cin) + len(self._cin2) + len(self._cin3) + 4
        fixed += len(self._body1) + len(self._body2) + len(self._body3)
        self._req = bytearray(fixed + 2 + 10 + 5 + 37 + 2 * record + 64)
        self.nums = [-1] * self.window
        self._order = bytearray(self.window)
        self._first = self._count = 0
        self._setup = 0  # answers still due to the AE and container creates
        self._rx = bytearray(512)
        self._parser = Responses(self._answer)
        self._sock = None
        self._poll = None
        self.up = False
        self._acked_at = 0

    def open(self):
        """Connect, then create the AE and the k containers (already there is fine)."""
        self.close()
        for i in range(self.window):
            self.nums[i] = -1
        self._first = self._count = self._setup = 0  # what a broken connection left is void
        self._parser.reset()
        self._sock = net.connect(self.host, self.port, None, self.timeout)
        self._sock.setblocking(False)
        self._poll = select.poll()
        self._poll.register(self._sock, select.POLLIN)
        self._create(
            b"", 2, b'{"m2m:ae":{"rn":"%s","api":"Nveil","rr":false,"srv":["3"]}}' % self._ae
        )
        for t in range(self.k):
            self._create(b"/" + self._ae, 3, b'{"m2m:cnt":{"rn":"t%d"}}' % t)
        start = time.ticks_ms()
        while self._setup:
            if time.ticks_diff(time.ticks_ms(), start) > self.timeout * 1000:
                raise OSError("no answer from the CSE")
            self.poll(100)
        self.up = True
        self._acked_at = time.ticks_ms()

    def _create(self, under, ty, body):
        """One create request of the set-up (allocates: once per connection)."""
        head = b"POST " + self._base + under + b"?rcn=0" + self._common
        head += b"s%d\r\nContent-Type: application/json;ty=%d\r\nContent-Length: %d\r\n\r\n" % (
            self._setup,
            ty,
            len(body),
        )
        self._setup += 1
        self._write(head + body, len(head) + len(body))

    def close(self):
        if self._sock:
            self._sock.close()
        self._sock = None
        self._poll = None
        self.up = False

    def busy(self):
        return self._count > 0

    def send(self, i, n, kind):
        """Create the record staged in views[i] (outbox message n) in container t<kind>."""
        b = self._req
        s = self._stage
        p = put(b, 0, self._cin)
        p = put_uint(b, p, kind)
        p = put(b, p, self._cin2)
        p = put_uint(b, p, n)
        p = put(b, p, self._cin3)
        rn = self._ep_at
        fields = 0  # ep, boot and seq, each up to the comma after it
        while fields < 3:
            rn += 1
            if s[rn] == 44:
                fields += 1
        body = len(self._body1) + len(self._body2) + len(self._body3)
        body += rn - self._ep_at - 13 + len(s) + s.count(b'"')  # the name, the escaped record
        p = put_uint(b, p, body)
        b[p : p + 4] = b"\r\n\r\n"
        p = put(b, p + 4, self._body1)
        p = self._name(b, p)
        p = put(b, p, self._body2)
        for c in s:
            if c == _QUOTE:
                b[p] = _BACKSLASH
                p += 1
            b[p] = c
            p += 1
        p = put(b, p, self._body3)
        if not self.busy():
            self._acked_at = time.ticks_ms()
        self.nums[i] = n
        self._order[(self._first + self._count) % self.window] = i
        self._count += 1
        self._write(b, p)

    def _name(self, b, p):
        """The contentInstance's name "<ep>-<boot>-<seq>", copied from the staged record."""
        s = self._stage
        q = self._ep_at
        for skip in (7, 6, 0):  # ',"boot":' then ',"seq":' follow the first two numbers
            while s[q] != 44:
                b[p] = s[q]
                p += 1
                q += 1
            if skip:
                b[p] = 45
                p += 1
                q += skip + 1
        return p

    def _write(self, buf, n):
        """Write buf[:n] on the non-blocking socket, waiting for room up to the timeout."""
        off = 0
        start = time.ticks_ms()
        while off < n:
            w = self._sock.write(buf, off, n - off)
            if w:
                off += w
                continue
            if time.ticks_diff(time.ticks_ms(), start) > self.timeout * 1000:
                raise OSError("the CSE takes no data")
            self._poll.modify(self._sock, select.POLLOUT)
            self._poll.poll(100)
            self._poll.modify(self._sock, select.POLLIN)

    def poll(self, wait_ms):
        """Read the CSE's answers within `wait_ms`; raises OSError when the link is dead and
        net.LinkError when the CSE refuses a request."""
        if self.busy() and time.ticks_diff(time.ticks_ms(), self._acked_at) > self.ack_ms:
            raise OSError("no answer from the CSE for %d ms" % self.ack_ms)
        while True:
            ready = False
            for _obj, ev in self._poll.ipoll(wait_ms):
                if ev & select.POLLIN:
                    ready = True
                elif ev & (select.POLLHUP | select.POLLERR):
                    raise OSError("connection lost")
            if not ready:
                return
            n = self._sock.readinto(self._rx)
            if n == 0:
                raise OSError("connection closed by the CSE")
            if n:
                self._parser.feed(self._rx, n)
            wait_ms = 0

    def _answer(self, code, rsc, close):
        """One answer, to the oldest request in flight."""
        ok = rsc == _CREATED or rsc == _EXISTS if rsc else code == 201 or code == 409
        if self._setup:
            self._setup -= 1
            if not ok and rsc != _REGISTERED:
                raise net.LinkError(
                    "CSE refused the AE or a container: HTTP %d, RSC %d" % (code, rsc)
                )
        elif not self._count:
            raise OSError("unexpected answer from the CSE")
        else:
            i = self._order[self._first]
            if not ok:
                raise net.LinkError("CSE refused a record: HTTP %d, RSC %d" % (code, rsc))
            self._first = (self._first + 1) % self.window
            self._count -= 1
            self.nums[i] = -1
            self._acked_at = time.ticks_ms()
        if close:
            raise OSError("the CSE closed the connection")
