"""What provisioning puts on a board for its transport: the sink settings (config.json), the
secrets (secrets.json: broker and Wi-Fi passwords, mode 0600 on the laptop, never shown) and
the broker's CA as DER (the only form MicroPython's TLS accepts). The transport is MQTT
(`--mqtt`) or a oneM2M CSE over HTTP (`--onem2m`)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import VeilError
from ..platform.broker import read_credentials
from ..platform.mqtt_link import PASSWORD_ENV, BrokerUrl, read_secret

WIFI_PASSWORD_ENV = "VEIL_WIFI_PASSWORD"


@dataclass(frozen=True)
class Transport:
    """How a board publishes over the network: its sink (in config.json), its secrets
    (secrets.json) and the files that go beside them (the CA)."""

    sink: dict
    secrets: dict
    files: dict[str, bytes]


def check_reachable(transport: Transport, wait: float = 10.0) -> None:
    """Fail with one clear line when the broker or CSE a board on this machine (the virtual
    board) would publish to does not accept a connection within `wait` seconds (a service
    started a moment ago gets that long to open its port)."""
    host, port = transport.sink["host"], transport.sink["port"]
    what = "broker" if transport.sink["type"] == "mqtt" else "oneM2M CSE"
    end = time.monotonic() + wait
    while True:
        try:
            socket.create_connection((host, port), max(0.1, end - time.monotonic())).close()
            return
        except OSError as e:
            if time.monotonic() >= end:
                raise VeilError(
                    f"the {what} at {host}:{port} does not answer ({e.strerror or e}): start "
                    "it first; nothing was replayed"
                ) from None
            time.sleep(0.2)


def ca_der(path: Path) -> bytes:
    """A CA certificate file (PEM or DER) as DER."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise VeilError(f"cannot read CA {path}: {e.strerror}") from None
    try:
        load = (
            x509.load_pem_x509_certificate
            if b"-----BEGIN" in data
            else x509.load_der_x509_certificate
        )
        return load(data).public_bytes(Encoding.DER)
    except ValueError:
        raise VeilError(f"{path} is not a certificate (PEM or DER)") from None


def _mqtt(device, url, broker_dir, ca, password_file):
    u = BrokerUrl.parse(url)
    sink = {"type": "mqtt", "host": u.host, "port": u.port, "prefix": u.prefix, "user": device}
    files = {}
    password = read_secret(password_file, PASSWORD_ENV)
    if broker_dir:
        creds = read_credentials(broker_dir)
        if password is None and device in creds:
            password = creds[device]["password"]
        ca = ca or Path(broker_dir) / "ca.pem"
    if password is None:
        raise VeilError(
            f"no broker password for {device}: give --broker-dir, --mqtt-password-file or "
            f"set {PASSWORD_ENV}"
        )
    if u.tls:
        if not ca:
            raise VeilError("mqtts:// needs the broker's CA: give --mqtt-ca or --broker-dir")
        files["ca.der"] = ca_der(ca)
        sink["ca"] = "ca.der"
    return sink, {"mqtt_password": password}, files


def _onem2m(device, url):
    from ..platform.onem2m import CseUrl, device_origin

    u = CseUrl.parse(url)
    sink = {
        "type": "onem2m",
        "host": u.host,
        "port": u.port,
        "path": u.path,
        "ae": device,
        "origin": device_origin(device),
    }
    return sink, {}, {}


def sink_settings(
    device: str,
    *,
    mqtt_url=None,
    onem2m_url=None,
    broker_dir=None,
    mqtt_ca=None,
    mqtt_password_file=None,
    wifi_ssid=None,
    wifi_password_file=None,
    spool_records=4096,
) -> Transport | None:
    """The transport the provisioning options ask for; None keeps the file spool."""
    if mqtt_url and onem2m_url:
        raise VeilError("give one transport: --mqtt or --onem2m")
    if mqtt_url:
        sink, secrets, files = _mqtt(device, mqtt_url, broker_dir, mqtt_ca, mqtt_password_file)
    elif onem2m_url:
        sink, secrets, files = _onem2m(device, onem2m_url)
    else:
        if wifi_ssid:
            raise VeilError("--wifi-ssid needs a network transport (--mqtt or --onem2m)")
        return None
    sink["spool_records"] = spool_records
    if wifi_ssid:
        sink["ssid"] = wifi_ssid
        password = read_secret(wifi_password_file, WIFI_PASSWORD_ENV)
        if password:
            secrets["wifi_password"] = password
    return Transport(sink, secrets, files)
