"""The platform's commands, none of which needs a key: `veil ingest` (feed files, an MQTT
broker or a oneM2M CSE into a store), and the Mosquitto and ACME set-ups `veil broker` and
`veil cse`."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .options import (
    Reporter,
    broker_options,
    examples,
    ingest_options,
    json_option,
    origin_option,
    print_json,
    stop_on_signals,
    with_options,
)


@click.command(
    short_help="Store disguised feeds (files, MQTT, oneM2M); no key.",
    epilog=examples(
        "veil ingest feed.jsonl --store platform.db",
        "veil ingest mqtts://127.0.0.1:8883 --ca broker/ca.pem --user ingest "
        "--password-file broker/passwords/ingest",
    ),
)
@click.argument("sources", metavar="FEED…|mqtt://…|http://CSE", nargs=-1, required=True)
@click.option(
    "--store",
    "store_path",
    default="platform.db",
    show_default=True,
    help="SQLite file, or a postgresql:// URL",
)
@with_options(broker_options)
@with_options(ingest_options)
@origin_option
@json_option
def ingest(sources, store_path, origin, as_json, **service):
    """Platform side: store disguised feeds (files, live from a broker, or from a oneM2M CSE);
    no key needed; quarantine non-records with the reason. With --json the counts are printed
    as JSON.
    """
    from ..platform.ingest import ingest_cse, ingest_files, refuse_quarantined

    if any(s.startswith(("http://", "https://")) for s in sources):
        if len(sources) != 1:
            raise click.UsageError("give one CSE URL, or feed files")
        devices, res, total = ingest_cse(sources[0], store_path, origin=origin, notice=_notice)
        _say(as_json, f"{sources[0]}: {len(devices)} devices, {_summary(res)}")
        _say(as_json, f"{store_path}: {total} records")
        _print_counts(as_json, store_path, total, [(sources[0], res)], devices=devices)
        refuse_quarantined(res.quarantined)
        return
    if any(s.startswith(("mqtt://", "mqtts://")) for s in sources):
        if len(sources) != 1:
            raise click.UsageError("give one broker URL, or feed files")
        res = _ingest_service(sources[0], store_path, as_json=as_json, **service)
        _print_counts(as_json, store_path, None, [(sources[0], res)])
        return
    done = []

    def on_file(feed, res):
        done.append((feed, res))
        _say(as_json, f"{feed}: {_summary(res)}")

    with Reporter() as progress:
        quarantined, total = ingest_files(
            store_path, sources, on_file=on_file, notice=_notice, progress=progress
        )
    _say(as_json, f"{store_path}: {total} records")
    _print_counts(as_json, store_path, total, done)
    refuse_quarantined(quarantined)


def _say(as_json: bool, line: str) -> None:
    """A result line: on stdout, or on stderr when stdout carries the JSON."""
    click.echo(line, err=as_json)


def _print_counts(as_json, store_path, total, results, **extra) -> None:
    if not as_json:
        return
    sources = [
        {
            "source": str(src),
            "read": res.read,
            "stored": res.stored,
            "already_stored": res.duplicates,
            "quarantined": len(res.quarantined),
        }
        for src, res in results
    ]
    print_json({"store": str(store_path), "records": total, "sources": sources, **extra})


def _ingest_service(
    url, store_path, *, as_json, user, password_file, ca, group, client_id, limit, idle
):
    """`veil ingest mqtt://…`: run until stopped, printing a line per second of progress."""
    from ..platform.ingest_mqtt import ingest_broker
    from ..platform.mqtt_link import read_secret
    from ..platform.store import open_store

    with open_store(store_path) as store:
        if store.upgraded:
            _notice(store.upgraded)
        service = ingest_broker(
            store,
            url,
            user=user,
            password=read_secret(password_file),
            ca=ca,
            group=group,
            client_id=client_id,
        )
        last = [0.0]

        def progress(res):
            if time.monotonic() - last[0] >= 1:
                last[0] = time.monotonic()
                click.echo(_summary(res), err=True)

        click.echo(f"ingesting {url} into {store_path} (Ctrl-C to stop)", err=True)
        res = service.run(
            stop=stop_on_signals(), limit=limit, idle=idle, on_batch=progress, notice=_notice
        )
    _say(as_json, _summary(res))
    for rej in res.quarantined[:5]:
        click.echo(f"quarantined {rej.origin}: {rej.reason}", err=True)
    return res


def _notice(line: str) -> None:
    click.echo(line, err=True)


def _summary(res) -> str:
    return (
        f"{res.read} messages, {res.stored} stored, {res.duplicates} already stored, "
        f"{len(res.quarantined)} quarantined"
    )


@click.command(
    short_help="Write a Mosquitto set-up: TLS, passwords, ACL.",
    epilog=examples("veil broker broker --device room1 --reader ingest --reader owner --port 8883"),
)
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--device", "devices", multiple=True, help="a device that publishes (repeat)")
@click.option(
    "--reader", "readers", multiple=True, help="an ingest service or owner that reads (repeat)"
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8883,
    show_default=True,
    help="TLS port the broker listens on (boards and readers connect here)",
)
@click.option(
    "--plain-port",
    type=click.IntRange(1, 65535),
    help="also a password listener without TLS (loopback only)",
)
def broker(folder, devices, readers, host, port, plain_port):
    """Write a Mosquitto set-up (TLS, per-device passwords, ACL) into FOLDER."""
    from ..platform.broker import write_broker

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


@click.command(
    short_help="Write an ACME oneM2M CSE set-up.",
    epilog=examples("veil cse acme --port 8282"),
)
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
    help="HTTP port the CSE listens on (boards post to it)",
)
@click.option("--name", default="cse-veil", show_default=True, help="the CSE's name (URL path)")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="address it listens on, boards reach"
)
@click.option(
    "--db",
    metavar="postgresql://ROLE@HOST/DB",
    help="keep the CSE's resources in PostgreSQL (default: in memory, gone at a restart)",
)
def cse(folder, port, name, host, db):
    """Write a headless ACME oneM2M CSE set-up (acme.ini) into FOLDER."""
    from ..platform.cse import write_cse

    path = write_cse(folder, port=port, name=name, host=host, db=db or "")
    click.echo(f"wrote {path} (CSE {name} on http://{host}:{port}/{name})")
    click.echo(f"start it with: acmecse --base-directory {folder} --headless")
