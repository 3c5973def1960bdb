"""Sustained ingest from Mosquitto into the store, beside the raw rate of `mosquitto_sub`.

For each consumer the broker first holds N records queued for it (a persistent session that
subscribed and went away), then the consumer is started and timed until it has all N: the
broker's delivery and the consumer's work are measured, not a publisher's. `mosquitto_sub` (C,
QoS 1, output to /dev/null) is the reference: the rate at which this machine's broker can hand
messages to any client. Ingest runs as `veil ingest` would, QoS 1 with acknowledgements after
each committed batch, into SQLite and into PostgreSQL (both started here). 0 lost is checked
by counting what the store holds.

    python bench/bench_ingest.py --messages 200000
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from veil.platform.ingest_mqtt import MqttIngest
from veil.platform.mqtt_link import BrokerUrl
from veil.platform.store import open_store
from veil.protocol import Channel, DeviceSpec, HomeKeys, encode_line

# The local servers are test infrastructure, not part of veil: tests/services.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from services import Mosquitto, Postgres

DEVICES = 8


def make_feed(n: int) -> dict[str, bytes]:
    """n valid records from DEVICES devices, as lines for `mosquitto_pub -l` per device."""
    keys = HomeKeys(os.urandom(32))
    chans = (Channel("temp", 2, -4000, 8500), Channel("co2", 0, 0, 5000))
    feeds = {}
    per = n // DEVICES
    for d in range(DEVICES):
        spec = DeviceSpec(f"bench{d}", 4, 0, chans)
        lines = [
            encode_line(
                spec,
                keys,
                boot=0,
                seq=i // 4,
                trk=i % 4,
                ts=1_700_000_000 + i // 4,
                values=(2000 + i % 97, 400 + i % 13),
            )
            for i in range(per)
        ]
        feeds[spec.device] = b"\n".join(lines) + b"\n"
    return feeds


def prefill(broker: Mosquitto, feeds: dict[str, bytes]) -> None:
    for dev, data in feeds.items():
        subprocess.run(
            [
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                str(broker.plain_port),
                "-u",
                dev,
                "-P",
                broker.files.password(dev),
                "-t",
                f"veil/{dev}",
                "-q",
                "1",
                "-l",
            ],
            input=data,
            check=True,
        )


def sub_cmd(broker: Mosquitto, *extra: str) -> list[str]:
    return [
        "mosquitto_sub",
        "-h",
        "127.0.0.1",
        "-p",
        str(broker.plain_port),
        "-u",
        "ingest",
        "-P",
        broker.files.password("ingest"),
        "-q",
        "1",
        "-c",
        "-i",
        "bench-raw",
        "-t",
        "veil/#",
        *extra,
    ]


def raw_rate(broker: Mosquitto, feeds: dict[str, bytes], n: int) -> float:
    subprocess.run(sub_cmd(broker, "-E"), check=True)
    prefill(broker, feeds)
    t = time.perf_counter()
    subprocess.run(sub_cmd(broker, "-C", str(n)), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def ingest_rate(broker: Mosquitto, feeds, n: int, target: str, name: str) -> tuple[float, int]:
    url = BrokerUrl.parse(f"mqtt://127.0.0.1:{broker.plain_port}")
    password = broker.files.password("ingest")
    with open_store(target) as store:

        def service():
            return MqttIngest(store, url, user="ingest", password=password, client_id=name)

        service().run(limit=0)  # the persistent session now holds the subscription
        prefill(broker, feeds)
        t = time.perf_counter()
        res = service().run(limit=n, idle=10)
        took = time.perf_counter() - t
        stored = store.counts()[0]
    assert res.read == n and not res.quarantined, (res.read, len(res.quarantined))
    return took, stored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    n = args.messages // DEVICES * DEVICES
    feeds = make_feed(n)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmp = Path(tmp)
        with Mosquitto(tmp / "broker", devices=list(feeds)) as broker:
            raw = raw_rate(broker, feeds, n)
            rows.append(("mosquitto_sub, QoS 1 (reference)", n / raw, raw, n, 1.0))
            took, stored = ingest_rate(broker, feeds, n, str(tmp / "p.db"), "bench-sqlite")
            rows.append(("veil ingest -> SQLite", n / took, took, stored, raw / took))
            if not args.no_postgres:
                with Postgres() as pg:
                    took, stored = ingest_rate(broker, feeds, n, pg.url, "bench-pg")
                rows.append(("veil ingest -> PostgreSQL", n / took, took, stored, raw / took))
    print(
        f"{n} messages of {len(next(iter(feeds.values())).splitlines()[0])} bytes, "
        f"{DEVICES} devices; {platform.processor() or platform.machine()}, "
        f"Python {sys.version.split()[0]}\n"
    )
    print("| consumer | messages/s | time | stored (of sent) | ratio to mosquitto_sub |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for what, rate, took, stored, ratio in rows:
        print(f"| {what} | {rate:,.0f} | {took:.2f} s | {stored:,} / {n:,} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
