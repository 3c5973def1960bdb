"""Unit tests of firmware modules, run under the MicroPython binary by tests/test_firmware.py.

Each test_* function runs in a fresh scratch folder (the current folder); output is one line
per test, "ok NAME" or "FAIL NAME: reason".
"""

import array
import io
import os

import runner

from veil import proto
from veil.decoy import Decoys, Grid
from veil.drivers import END, OK
from veil.drivers.replay import Driver, ReplayError
from veil.households import Households
from veil.keystream import Keystream
from veil.onem2m import Responses
from veil.outbox import Outbox
from veil.state import State


def write(name, data):
    with open(name, "wb") as f:
        f.write(data)


def eq(got, want):
    if got != want:
        raise AssertionError("%r != %r" % (got, want))


CH = (("t", 2, -4000, 8500), ("n", 0, 0, 100))


def test_replay_parses_decimals_signs_and_gaps():
    write("r.csv", b"ts,t,n\n10,24.94,7\n11,-0.5,0\r\n12,,3\n13, 1 ,100\n")
    d = Driver(CH, {"file": "r.csv"})
    v = [0, 0]
    eq((d.read(v), d.day, d.sec, v), (OK, 0, 10, [2494, 7]))
    eq((d.read(v), d.day, d.sec, v), (OK, 0, 11, [-50, 0]))
    eq((d.read(v), d.day, d.sec, v), (1, 0, 12, [-50, 3]))  # bit 0: channel t had no reading
    eq((d.read(v), d.day, d.sec, v), (OK, 0, 13, [100, 100]))
    eq(d.read(v), END)


def test_replay_reads_unix_time_as_day_and_second():
    write("r.csv", b"ts,t,n\n1513939781,1,2\n4294967295,1,2\n")
    d = Driver(CH, {"file": "r.csv"})
    v = [0, 0]
    eq((d.read(v), d.day, d.sec), (OK, 17522, 38981))  # 2017-12-22 10:49:41 UTC
    eq((d.read(v), d.day, d.sec), (OK, 49710, 23295))  # 2**32 - 1, 2106-02-07


def test_replay_without_trailing_newline():
    write("r.csv", b"ts,t,n\n10,1.25,7")
    d = Driver(CH, {"file": "r.csv"})
    v = [0, 0]
    eq((d.read(v), v), (OK, [125, 7]))
    eq(d.read(v), END)


def test_replay_rejects_bad_files():
    for data, what in (
        (b"ts,x,n\n1,2,3\n", "header"),
        (b"ts,t,n\n1,2.345,3\n", "decimals"),
        (b"ts,t,n\n1,2\n", "few"),
        (b"ts,t,n\n1,2,3,4\n", "many"),
    ):
        write("r.csv", data)
        try:
            d = Driver(CH, {"file": "r.csv"})
            d.read([0, 0])
        except ReplayError as e:
            if what not in str(e):
                raise AssertionError("wrong message for %s: %s" % (what, e))
        else:
            raise AssertionError("accepted a file with bad " + what)


def test_state_sequence_never_repeats_across_boots():
    s = State("st", reserve=8)
    eq((s.boot, s.seq), (0, 0))
    for _ in range(20):
        s.advance()
    last = s.seq
    s = State("st", reserve=8)
    eq(s.boot, 1)
    if s.seq <= last:
        raise AssertionError("seq %d after reboot is not above %d" % (s.seq, last))
    if s.seq - last > 8:
        raise AssertionError("skipped %d > reserve" % (s.seq - last))


def test_state_survives_a_power_cut_during_a_slot_write():
    for keep in (0, 7, 15):
        for name in ("st.0", "st.1"):
            try:
                os.remove(name)
            except OSError:
                pass
        s = State("st", reserve=8)
        for _ in range(19):
            s.advance()
        while s.seq + 1 < s._mark:  # publish up to the tick before the next slot write
            s.advance()
        last = s.seq
        target = s._slots._paths[s._slots._next]
        with open(target, "rb") as f:
            old = f.read()
        s.advance()  # writes the next slot; the power fails part way through that write
        with open(target, "rb") as f:
            new = f.read()
        write(target, new[:keep] + old[keep:])
        s = State("st", reserve=8)
        if s.seq <= last:
            raise AssertionError("cut after %d bytes: seq %d <= %d" % (keep, s.seq, last))


def test_state_starts_fresh_without_valid_slots():
    write("st.0", b"garbage")
    s = State("st", reserve=8)
    eq((s.boot, s.seq), (0, 0))


def test_keystream_is_keyed_and_addressable():
    x, y, z = Keystream(b"k" * 32), Keystream(b"k" * 32), Keystream(b"j" * 32)
    x.block(7, 1)
    z.block(7, 1)
    first = bytes(x.out)
    for a in range(6):
        y.block(a, 0)  # other positions in between change nothing
    y.block(7, 1)
    eq(bytes(y.out), first)
    if bytes(z.out) == first:
        raise AssertionError("different keys gave the same block")
    x.block(7, 2)
    if bytes(x.out) == first:
        raise AssertionError("different positions gave the same block")
    eq(x.u16(0), (x.out[0] << 8) | x.out[1])


def test_grid_round_trips_the_sensor_values():
    g = Grid(25, [0, 6, 13, 19])  # 1/16 degC rounded to 0.01
    for v in (2494, 2500, 2506, 2513, 2519, -6, -25, 0):
        eq(g.value(g.index(v)), v)
    eq(g.index(2513) - g.index(2500), 2)
    eq(g.value(g.index(2510)), 2506)  # off-grid readings map to the grid value below


OCC = {
    "slot_s": 300,
    "days": [13000, 30000, 20000, 40000],
    "start": [20000, 40000, 30000, 50000],
    "trans": [60000, 63000, 2000, 62000, 3000, 5000] * 48,
}


def _profile():
    """A small channel model: steps -1, 0, +1 alike, in every context (one quantile row)."""
    return {
        "veil_profile": 2,
        "period_s": 30,
        "bridge_s": 1800,
        "occupancy": OCC,
        "channels": {
            "c": {
                "grid": [1, [0]],
                "range": [0, 1000],
                "floor": [24, 8],
                "y": [-500, 500],
                "edges": [0],
                "big": 1,
                "phi": 0,
                "bands": 1,
                "snap": 1,
                "start": [0] * 24,
                "rows": 1,
            }
        },
    }


def _tables():
    """decoy.bin for _profile(): 60 contexts on row 0, its knots (a uniform step -1..+1)."""
    p = array.array("H", [0] + [65535] * 23)
    q = array.array("h", [-12] + [12] * 23)
    return io.BytesIO(bytes(60) + bytes(p) + bytes(q))


def _decoys():
    return Decoys(_profile(), _tables(), [("c", 0, 0, 1000)], b"d" * 32, b"dev", 0, [2, 0, 1])


def test_decoys_continue_after_a_reboot_exactly():
    t0 = 1700000000
    one = _decoys()
    vals = [[0], [0], [0]]
    for seq in range(70):
        vals[0][0] = 500  # track 0 is real and reads steadily
        day, sec = divmod(t0 + 30 * seq, 86400)
        one.tick(seq, day, sec, 0, vals, vals[0], 0)
        if seq == 63:
            one.save(63, day, sec)
    moved = [vals[1][0], vals[2][0]]
    if moved == [500, 500]:
        raise AssertionError("the fakes never moved")
    two = _decoys()
    two.restore(69, 30, 0)  # a reboot: the snapshot of tick 63, then 64..68 replayed
    again = [[0], [0], [0]]
    again[0][0] = 500
    day, sec = divmod(t0 + 30 * 69, 86400)
    two.tick(69, day, sec, 0, again, again[0], 0)
    eq([again[1][0], again[2][0]], moved)


def test_fakes_meet_the_real_reading_before_the_re_deal():
    """In the last half hour of a household day every fake walk is drawn to the real reading,
    so the track that carries the real readings next starts where the sensor is."""
    day0 = 1700000000 - 1700000000 % 86400 + 4 * 3600  # 04:00 UTC: a household day begins
    dec = _decoys()
    vals = [[0], [0], [0]]
    gaps = []
    for n in range(2880):  # one day at 30 s
        vals[0][0] = 300
        day, sec = divmod(day0 + 30 * n, 86400)
        dec.tick(n, day, sec, 0, vals, vals[0], 0)
        gaps.append(max(abs(vals[1][0] - 300), abs(vals[2][0] - 300)))
    if max(gaps[: 2880 - 120]) < 5:
        raise AssertionError("the fakes never left the real reading")
    if gaps[-1] > 2:
        raise AssertionError("the fakes were %d steps away at the re-deal" % gaps[-1])


def test_households_agree_whatever_the_boot_time():
    a = Households(b"d" * 32, 0, 4, OCC)
    day = 19675
    seen = []
    for n in range(288):  # one device ticking every 5 minutes for a day
        seen.append(bytes(a.at(day, 300 * n)))
    for n in (17, 150, 287):  # devices that boot later land on the same states
        b = Households(b"d" * 32, 0, 4, OCC)
        eq(bytes(b.at(day, 300 * n)), seen[n])
    other = Households(b"e" * 32, 0, 4, OCC)
    if [bytes(other.at(day, 300 * n)) for n in range(288)] == seen:
        raise AssertionError("another key told the same story")
    if len(set(seen)) < 3:
        raise AssertionError("the households never changed state")


def test_encoder_rejects_nothing_in_bounds_and_keeps_size():
    enc = proto.Encoder("d", 2, 0, CH, b"r" * 32, b"f" * 32)
    sizes = set()
    for v in ([-4000, 0], [8500, 100], [0, 5], [-5, 99]):
        sizes.add(len(enc.encode(0, 1, 2, 0, 0, 3, v, True)))
    eq(sizes, {enc.size})


def test_encoder_writes_ts_from_day_and_second():
    import struct

    enc = proto.Encoder("d", 2, 4000000000, CH, b"r" * 32, b"f" * 32)
    for ts in (0, 7, 99999, 100000, 1513939781, 1700000000, 4294967295):
        day, sec = divmod(ts, 86400)
        line = bytes(enc.encode(0, 1, 2, 0, day, sec, [0, 0], True))
        eq(line.split(b'"ts":')[1].split(b",")[0], str(ts).encode())
        eq(struct.unpack_from(">I", enc.canonical(), enc._var + 18)[0], ts)  # after ep..k
        eq(line.split(b'"ep":')[1].split(b",")[0], b"4000000000")


def test_outbox_drop_reports_add_up_even_when_their_carriers_are_dropped():
    """A long outage (nothing delivered) with k = 2: the real record of every tick carries the
    report; the ring drops carriers too, yet the reports that get through sum to the drops."""
    ob = Outbox("ob", 8, 4)
    carried = {}
    for tick in range(30):
        carried[ob.head] = ob.report()
        ob.put(b"real", 0, carried[ob.head])
        ob.put(b"fake", 1, 0)
    eq(ob.dropped, 60 - 8)
    got = sum(carried.get(n, 0) for n in range(ob.tail, ob.head))  # what survived the outage
    ob.release(ob.head)  # the link is back: all of it delivered
    for tick in range(3):
        got += ob.report()
        ob.put(b"real", 0, 0)
        ob.put(b"fake", 1, 0)
        ob.release(ob.head)
    eq((got, ob.pending), (ob.dropped, 0))


def test_outbox_report_is_capped_and_kept_across_a_reboot():
    ob = Outbox("ob2", 16, 4)
    for n in range(616):
        ob.put(b"%04d" % (n % 10000), n % 4, 0)
    eq(ob.report(), 255)
    ob.close()
    ob = Outbox("ob2", 16, 4)  # a reboot: positions, drops and what is pending come back
    eq((ob.dropped, ob.pending, ob.backlog()), (600, 345, 16))
    eq((ob.report(), ob.report(), ob.report()), (255, 90, 0))
    view = bytearray(4)
    eq((ob.read(ob.tail, view), bytes(view)), (0, b"0600"))


def test_outbox_keeps_what_it_wrote_when_the_position_file_is_torn():
    ob = Outbox("ob3", 8, 4)
    for n in range(5):
        ob.put(b"abcd", 0, 0)
    ob.close()
    for raw in (b"\x00" * 16, b"torn", b""):
        write("ob3.pos", raw)
        ob = Outbox("ob3", 8, 4)  # the positions start empty, the messages are found again
        eq((ob.backlog(), ob.dropped, ob.pending), (5, 0, 0))
        ob.close()


def test_outbox_writes_only_what_is_still_owed_at_the_end_of_a_tick():
    ob = Outbox("ob4", 64, 4, stage=2)
    for tick in range(40):  # the link keeps up: each tick's two messages delivered
        ob.put(b"r%03d" % tick, 0, 0)
        ob.put(b"f%03d" % tick, 1, 0)
        ob.release(ob.head)
        ob.commit()
    eq(ob.writes, 10)  # the positions (two writes) when the tail moved a quarter of the ring
    for tick in range(40, 50):  # the link is down: one write a tick
        ob.put(b"r%03d" % tick, 0, 0)
        ob.put(b"f%03d" % tick, 1, 0)
        ob.commit()
    eq(ob.writes, 20)
    ob._f.close()  # a power cut: the positions on flash are older than the last ten ticks
    ob = Outbox("ob4", 64, 4, stage=2)
    view = bytearray(4)
    eq((ob.backlog() >= 20, ob.read(ob.head - 1, view), bytes(view)), (True, 1, b"f049"))
    eq((ob.read(ob.head - 20, view), bytes(view)), (0, b"r040"))


ANSWERS = (
    b"HTTP/1.1 201 CREATED\r\nContent-Length: 0\r\nX-M2M-RSC: 2001\r\n\r\n"
    b"HTTP/1.1 409 CONFLICT\r\ncontent-length: 13\r\nx-m2m-rsc: 4105\r\nDate: %s\r\n\r\n"
    b'{"m2m:dbg":1}'
    b"HTTP/1.1 403 FORBIDDEN\r\nConnection: close\r\nContent-Length: 2\r\nX-M2m-Rsc: 4103\r\n"
    b"\r\n{}"
) % (b"x" * 200)


def test_http_answers_parse_however_they_are_split():
    for size in (1, 2, 3, 7, 50, len(ANSWERS)):
        got = []
        p = Responses(lambda code, rsc, close: got.append((code, rsc, close)))
        for i in range(0, len(ANSWERS), size):
            chunk = ANSWERS[i : i + size]
            p.feed(chunk, len(chunk))
        eq(got, [(201, 2001, False), (409, 4105, False), (403, 4103, True)])


def test_http_parser_refuses_what_is_not_http():
    p = Responses(lambda *a: None)
    try:
        p.feed(b"SSH-2.0-OpenSSH\r\n", 17)
    except OSError:
        return
    raise AssertionError("accepted a non-HTTP answer")


runner.run(globals())
