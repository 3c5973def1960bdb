"""CLI of the oneM2M transport: `veil cse` (an ACME set-up), and what `veil decode --cse` and
`veil ingest http://…` run."""

from __future__ import annotations

from pathlib import Path

import click

from .errors import VeilError

origin_option = click.option(
    "--origin",
    metavar="ORIGINATOR",
    help="oneM2M originator to read as (decode: each device's own AE; ingest: CAdmin)",
)


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
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
    from .cse import write_cse

    path = write_cse(folder, port=port, name=name, host=host, db=db or "")
    click.echo(f"wrote {path} (CSE {name} on http://{host}:{port}/{name})")
    click.echo(f"start it with: acmecse --base-directory {folder} --headless")


def cse_items(url: str, devices: list[str], origin: str | None):
    """The records of the home's devices on the CSE at `url`; says which devices are not there
    and fails if none is."""
    from .onem2m import read_devices

    items, absent = read_devices(url, devices, origin)
    if len(absent) == len(devices):
        raise VeilError(f"none of the devices ({', '.join(devices)}) has published to {url}")
    for dev in absent:
        click.echo(f"{dev}: not on {url}", err=True)
    return items


def run_cse_ingest(url: str, store_path, origin: str | None) -> None:
    """`veil ingest http://…/CSE`: copy every veil device's records from a CSE into the store
    (shape checked, quarantined with reasons, stored once however often it runs)."""
    from .ingest import ingest_items
    from .onem2m import ADMIN, Cse, CseUrl, read_devices, veil_devices
    from .store import open_store

    with Cse(CseUrl.parse(url), origin or ADMIN) as c:
        devices = veil_devices(c)
    if not devices:
        raise VeilError(f"no veil device on {url} (or {origin or ADMIN} may not read it)")
    items, _absent = read_devices(url, devices, origin or ADMIN)
    with open_store(store_path) as store:
        res = ingest_items(store, items)
        total, _ = store.counts()
    click.echo(
        f"{url}: {len(devices)} devices, {res.read} messages, {res.stored} stored, "
        f"{res.duplicates} already stored, {len(res.quarantined)} quarantined"
    )
    click.echo(f"{store_path}: {total} records")
    if res.quarantined:
        first = res.quarantined[0]
        raise VeilError(
            f"{len(res.quarantined)} messages quarantined (first, {first.origin}: "
            f"{first.reason}); valid records were stored"
        )
