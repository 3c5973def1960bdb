"""Connecting host services (ingest, live decode) to an MQTT broker with paho-mqtt.

A broker is named by a URL: `mqtt://HOST[:PORT][/PREFIX]` (plain, port 1883) or
`mqtts://HOST[:PORT][/PREFIX]` (TLS, port 8883; give the CA). Records of device D arrive on
`PREFIX/D` (default prefix `veil`). Passwords come from a file or an environment variable,
never from the command line or the URL, and are never shown.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import VeilError
from ..protocol import NAME_RE, MalformedRecord

PASSWORD_ENV = "VEIL_MQTT_PASSWORD"


class LinkError(VeilError):
    """The broker could not be reached or refused us."""


class RefusedError(LinkError):
    """The broker answered and refused the login: retrying will not help."""


class TakenOverError(LinkError):
    """Another client connected with our client id and took our session over."""


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool
    prefix: str

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise LinkError(f"not a broker URL: {url!r} (use mqtt://HOST[:PORT] or mqtts://…)")
        if parts.username or parts.password:
            raise LinkError("put no credentials in the broker URL: use --user and a password file")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise LinkError(f"bad port in {url!r}") from None
        prefix = parts.path.strip("/") or "veil"
        if "+" in prefix or "#" in prefix:
            raise LinkError("the topic prefix may not contain MQTT wildcards")
        return cls(parts.hostname, port, tls, prefix)

    def device_of(self, topic: str) -> str:
        """The device a record topic names; MalformedRecord if the topic is not `PREFIX/DEV`."""
        head, _, dev = topic.rpartition("/")
        if head != self.prefix or not NAME_RE.match(dev):
            raise MalformedRecord(f"topic {topic[:80]!r} is not {self.prefix}/<device>")
        return dev


def read_secret(path: Path | None, env: str = PASSWORD_ENV) -> str | None:
    """A password from the file if given, else from the environment variable, else None."""
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as e:
            raise LinkError(f"cannot read {path}: {e.strerror}") from None
    return os.environ.get(env)


def make_client(
    url: BrokerUrl,
    *,
    client_id: str,
    user: str | None,
    password: str | None,
    ca: Path | None,
    persistent: bool,
    manual_ack: bool = False,
):
    """A paho client (MQTT 3.1.1), configured but not yet connected. (MQTT 5 would let a
    broker say why it closed a session, but paho's MQTT 5 receive path made the ingest service
    three times slower, and Mosquitto 2.0.11 does not say it anyway.)"""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=not persistent,
        protocol=mqtt.MQTTv311,
        manual_ack=manual_ack,
    )
    if user:
        client.username_pw_set(user, password)
    if url.tls:
        if not ca:
            raise LinkError("mqtts:// needs the broker's CA certificate (--ca)")
        try:
            client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
        except (OSError, ssl.SSLError) as e:
            raise LinkError(f"cannot use CA {ca}: {e}") from None
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    return client


def connect(client, url: BrokerUrl, timeout: float = 10.0) -> None:
    """Connect and wait for the broker's answer; LinkError says why it failed."""
    import paho.mqtt.client as mqtt

    answer: list = []
    client.on_connect = lambda c, u, flags, rc, props: answer.append(rc)
    try:
        client.connect(url.host, url.port, keepalive=30)
    except (OSError, ssl.SSLError) as e:
        raise LinkError(f"cannot reach broker {url.host}:{url.port}: {e}") from None
    deadline = timeout
    while not answer and deadline > 0:
        rc = client.loop(0.1)
        deadline -= 0.1
        if answer:
            break
        if rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_AGAIN):
            raise LinkError(f"broker {url.host}:{url.port} closed the connection ({rc.name})")
    if not answer:
        raise LinkError(f"broker {url.host}:{url.port} did not answer within {timeout:.0f} s")
    if answer[0].is_failure:
        raise RefusedError(f"broker {url.host}:{url.port} refused us: {answer[0]}")
