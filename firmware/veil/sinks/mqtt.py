"""MQTT sink: every record published with QoS 1 through the flash outbox (veil.forward)."""

from ..config import secrets
from ..forward import Forwarder
from ..mqtt import Client


def Sink(options, record_size):
    client = Client(options, secrets(), options["dev"], record_size)
    return Forwarder(options, record_size, client, "mqtt")
