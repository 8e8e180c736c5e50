"""paho-mqtt clients set up one way for the fleet worker and the `watch --mqtt` publisher: MQTT 5, credentials,
optional TLS, reconnect with backoff (0.5 s doubling to 30 s), and connection errors as one-line UserErrors."""

from __future__ import annotations

import socket
import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from drivers.mqtt.url import Broker
from kb.errors import UserError

MQTT_ERR_SUCCESS = mqtt.MQTT_ERR_SUCCESS
RECONNECT_MIN, RECONNECT_MAX = 0.5, 30.0  # publishers (watch --mqtt): their QoS 1 readings wait in paho's queue
# The fleet worker comes back faster and never waits more than 2 s: readings that reach a restarted broker before
# the worker has subscribed again are not queued for it (Mosquitto 2.0 does not restore sessions across a restart).
FLEET_RECONNECT = (0.1, 2.0)


def make_client(broker: Broker, client_id: str, *, will: tuple[str, bytes, bool] | None = None,
                reconnect: tuple[float, float] = (RECONNECT_MIN, RECONNECT_MAX)) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if broker.username:
        c.username_pw_set(broker.username, broker.password)
    if broker.tls:
        try:
            c.tls_set(ca_certs=broker.ca_file, cert_reqs=ssl.CERT_NONE if broker.insecure else ssl.CERT_REQUIRED)
        except (ssl.SSLError, OSError) as e:
            raise UserError(f"TLS setup failed: {e}") from None
        if broker.insecure:
            c.tls_insecure_set(True)
    if will is not None:
        topic, payload, retain = will
        c.will_set(topic, payload, qos=1, retain=retain)
    c.on_socket_open = no_delay
    c.reconnect_delay_set(*reconnect)  # type: ignore[arg-type]
    c.max_queued_messages_set(100_000)
    c.max_inflight_messages_set(1000)  # paho's default of 20 unacknowledged QoS 1 messages caps a busy worker
    return c


def no_delay(client: mqtt.Client, userdata: object, sock: object) -> None:
    """Small MQTT packets go out at once (TCP_NODELAY): with Nagle's algorithm a reading or a finding written
    while an earlier one is unacknowledged waits for the peer's delayed ACK (up to 40 ms on Linux)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[attr-defined]
    except (OSError, AttributeError):  # not a TCP socket (a proxy, a test double): nothing to tune
        pass


def session_properties(expiry: int) -> Properties:
    """CONNECT properties: keep the session (subscriptions and queued QoS 1 messages) this many seconds."""
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = expiry
    return p


def connect(c: mqtt.Client, broker: Broker, *, keepalive: int = 5, expiry: int = 0) -> None:
    """Connect once (the network loop reconnects afterwards); a broker that cannot be reached is a UserError."""
    try:
        c.connect(broker.host, broker.port, keepalive=keepalive,
                  clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                  properties=session_properties(expiry) if expiry else None)
    except ssl.SSLError as e:
        raise UserError(f"TLS handshake with {broker.describe()} failed: {e.reason or e}") from None
    except socket.gaierror:
        raise UserError(f"cannot resolve the broker host '{broker.host}'") from None
    except (ConnectionError, TimeoutError, OSError) as e:
        raise UserError(f"cannot reach the broker at {broker.describe()}: {e.strerror or e}") from None


def reason_text(reason_code) -> str:
    try:
        return str(reason_code)
    except Exception:  # noqa: BLE001 - paho's ReasonCode str() on an unknown code
        return repr(reason_code)
