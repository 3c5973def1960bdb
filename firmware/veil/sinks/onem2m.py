"""oneM2M sink: every record created as a contentInstance in a CSE over HTTP, through the
flash outbox (veil.forward), like the MQTT sink."""

from ..forward import Forwarder
from ..onem2m import Client


def Sink(options, record_size):
    client = Client(options, options["dev"], record_size, options["k"])
    return Forwarder(options, record_size, client, "onem2m")
