"""CLI of the transports: `veil broker`, `veil ingest mqtt://…`, `veil decode --follow`, and the
provisioning options that carry broker and Wi-Fi settings to a board."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from .errors import VeilError

broker_options = [
    click.option("--user", help="broker user name"),
    click.option(
        "--password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="file holding the broker password (default: env VEIL_MQTT_PASSWORD)",
    ),
    click.option(
        "--ca",
        type=click.Path(dir_okay=False, path_type=Path),
        help="CA certificate (PEM) of an mqtts:// broker",
    ),
]

ingest_options = [
    click.option(
        "--group",
        default="veil-ingest",
        show_default=True,
        help="shared subscription group: instances of one group split the load",
    ),
    click.option(
        "--exclusive",
        is_flag=True,
        help="plain subscription instead of the shared group: one instance, and it survives a "
        "Mosquitto restart",
    ),
    click.option("--client-id", help="MQTT client id, unique per instance (default: per host)"),
    click.option("--limit", type=click.IntRange(min=0), help="stop after this many messages"),
    click.option(
        "--idle", type=click.FloatRange(min=0), help="stop after this many seconds without any"
    ),
]

provision_options = [
    click.option(
        "--mqtt", "mqtt_url", metavar="URL", help="publish over MQTT: mqtts://HOST[:PORT]"
    ),
    click.option(
        "--onem2m",
        "onem2m_url",
        metavar="URL",
        help="publish into a oneM2M CSE over HTTP: http://HOST:PORT/CSE-NAME",
    ),
    click.option(
        "--broker-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="folder made by `veil broker`: CA and this device's password from there",
    ),
    click.option(
        "--mqtt-ca", type=click.Path(dir_okay=False, path_type=Path), help="broker CA (PEM/DER)"
    ),
    click.option(
        "--mqtt-password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="the device's broker password (default: env VEIL_MQTT_PASSWORD)",
    ),
    click.option("--wifi-ssid", help="Wi-Fi network of a real board"),
    click.option(
        "--wifi-password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Wi-Fi password (default: env VEIL_WIFI_PASSWORD)",
    ),
    click.option(
        "--spool-records",
        type=click.IntRange(min=16),
        default=4096,
        show_default=True,
        help="outbox size on the board's flash, in records",
    ),
]


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--device", "devices", multiple=True, help="a device that publishes (repeat)")
@click.option(
    "--reader", "readers", multiple=True, help="an ingest service or owner that reads (repeat)"
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=click.IntRange(1, 65535), default=8883, show_default=True)
@click.option(
    "--plain-port",
    type=click.IntRange(1, 65535),
    help="also a password listener without TLS (loopback only)",
)
def broker(folder, devices, readers, host, port, plain_port):
    """Write a Mosquitto set-up (TLS, per-device passwords, ACL) into FOLDER."""
    from .broker import write_broker

    if not devices and not readers:
        raise click.UsageError("name at least one --device or --reader")
    files = write_broker(
        folder,
        devices=list(devices),
        readers=list(readers),
        host=host,
        tls_port=port,
        plain_port=plain_port,
    )
    users = ", ".join(sorted(files.credentials()))
    click.echo(f"wrote {files.config} (TLS on {host}:{port}; users {users})")
    click.echo(f"passwords are in {folder / 'credentials.json'} (mode 0600); CA: {files.ca_pem}")
    click.echo(f"start it with: mosquitto -c {files.config}")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run_ingest_service(
    url, store_path, *, user, password_file, ca, group, exclusive, client_id, limit, idle
):
    """`veil ingest mqtt://…`: run until stopped, printing a line per second of progress."""
    import time

    from .ingest_mqtt import ingest_broker
    from .mqtt_link import read_secret
    from .store import open_store

    with open_store(store_path) as store:
        service = ingest_broker(
            store,
            url,
            user=user,
            password=read_secret(password_file),
            ca=ca,
            group=None if exclusive else group,
            client_id=client_id,
        )
        last = [0.0]

        def progress(res):
            if time.monotonic() - last[0] >= 1:
                last[0] = time.monotonic()
                click.echo(_summary(res), err=True)

        click.echo(f"ingesting {url} into {store_path} (Ctrl-C to stop)", err=True)
        res = service.run(stop=_stop_on_signals(), limit=limit, idle=idle, on_batch=progress)
    click.echo(_summary(res))
    for rej in res.quarantined[:5]:
        click.echo(f"quarantined {rej.origin}: {rej.reason}", err=True)


def _summary(res) -> str:
    return (
        f"{res.read} messages, {res.stored} stored, {res.duplicates} already stored, "
        f"{len(res.quarantined)} quarantined"
    )


def run_follow(home_dir, url, csv_out, report_out, *, user, password_file, ca, limit, idle):
    """`veil decode --follow URL`: decode live from the broker."""
    from .home import Home
    from .live import follow
    from .mqtt_link import read_secret

    home = Home(home_dir)
    keys, specs = home.keys(), home.devices()
    if not specs:
        raise VeilError(f"no devices in {home.path}: provision or sim a device first")
    return follow(
        keys,
        specs,
        url,
        csv_out,
        report_out,
        user=user,
        password=read_secret(password_file),
        ca=ca,
        limit=limit,
        idle=idle,
        stop=_stop_on_signals(),
        echo=click.echo,
    )
