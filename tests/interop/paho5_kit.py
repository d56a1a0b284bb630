"""The paho-mqtt 2.x MQTT 5 connection that paho5_check.py drives: one
client per `Conn` with its network loop on a background thread, CONNACK,
SUBACK, UNSUBACK and publish acknowledgements recorded, received messages
queued. Every wait is bounded by TIMEOUT; a broker behaviour differing
from the check's expectation raises `Mismatch`.
"""

import queue
import sys
import threading
import time
from collections import namedtuple

try:
    import paho.mqtt
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.subscribeoptions import SubscribeOptions
except ImportError:
    print("FAIL: paho-mqtt 2.x is not installed: run scripts/test.sh")
    sys.exit(2)

TIMEOUT = 4.0
QUIET = 0.3
VERSION = getattr(paho.mqtt, "__version__", "?")

Msg = namedtuple("Msg", "topic payload qos retain props")


class Mismatch(Exception):
    """A broker behaviour differing from what MQTT 5.0 requires."""


def expect(cond, what):
    if not cond:
        raise Mismatch(what)


def props(packet_type, **values):
    """A paho Properties object for `packet_type` with `values` set."""
    p = Properties(packet_type)
    for name, value in values.items():
        setattr(p, name, value)
    return p


def prop(msg, name, default=None):
    """Property `name` of a received message, or `default` if absent."""
    return getattr(msg.props, name, default) if msg.props is not None else default


class Conn:
    """One MQTT 5 paho client running its network loop on a background
    thread; CONNACK, SUBACK, UNSUBACK and publish acknowledgements are
    recorded, messages queued."""

    def __init__(self, port, client_id, clean_start=True, session_expiry=None, will=None,
                 connect_props=None):
        self.client_id = client_id
        self.messages = queue.Queue()
        self.acks = {}
        self.cond = threading.Condition()
        self.connected = threading.Event()
        self.connack = None
        self.closed = None
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                        protocol=mqtt.MQTTv5)
        if will is not None:
            topic, payload, qos, will_props = will
            c.will_set(topic, payload, qos=qos, retain=False, properties=will_props)
        cp = connect_props or {}
        if session_expiry is not None:
            cp["SessionExpiryInterval"] = session_expiry
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = self._on_ack
        c.on_unsubscribe = self._on_ack
        c.on_publish = self._on_publish
        c.on_disconnect = self._on_disconnect
        self.client = c
        c.connect("127.0.0.1", port, keepalive=30, clean_start=clean_start,
                  properties=props(PacketTypes.CONNECT, **cp) if cp else None)
        c.loop_start()
        expect(self.connected.wait(TIMEOUT), f"{client_id}: no CONNACK within {TIMEOUT}s")
        flags, rc, connack_props = self.connack
        expect(not rc.is_failure, f"{client_id}: CONNACK refused: {rc}")
        self.session_present = flags.session_present
        self.connack_props = connack_props

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack = (flags, reason_code, properties)
        self.connected.set()

    def _on_message(self, client, userdata, msg):
        self.messages.put(Msg(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain),
                              getattr(msg, "properties", None)))

    def _on_ack(self, client, userdata, mid, reason_codes, properties):
        with self.cond:
            self.acks[mid] = [rc.value for rc in reason_codes]
            self.cond.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self.cond:
            self.acks[("pub", mid)] = reason_code.value
            self.cond.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        with self.cond:
            self.closed = reason_code
            self.cond.notify_all()

    def _wait_ack(self, key, what):
        with self.cond:
            got = self.cond.wait_for(lambda: key in self.acks or self.closed, TIMEOUT)
            expect(got, f"{self.client_id}: no {what} within {TIMEOUT}s")
            expect(key in self.acks, f"{self.client_id}: connection closed ({self.closed}) "
                                     f"instead of {what}")
            return self.acks.pop(key)

    def subscribe_codes(self, subscriptions, sub_props=None):
        """Sends one SUBSCRIBE with [(filter, SubscribeOptions)] and returns
        the SUBACK's reason codes."""
        rc, mid = self.client.subscribe(subscriptions, properties=sub_props)
        expect(rc == mqtt.MQTT_ERR_SUCCESS, f"{self.client_id}: SUBSCRIBE not sent: {rc}")
        return self._wait_ack(mid, f"SUBACK for {[f for f, _ in subscriptions]}")

    def subscribe(self, topic_filter, qos, **options):
        """Subscribes and checks the SUBACK grants `qos` [MQTT-3.8.4-7]."""
        opts = SubscribeOptions(qos=qos, **options)
        granted = self.subscribe_codes([(topic_filter, opts)])
        expect(granted == [qos], f"{self.client_id}: SUBACK for {topic_filter!r} "
                                 f"at QoS {qos} gave {granted}")

    def unsubscribe_codes(self, filters):
        """Sends one UNSUBSCRIBE and returns the UNSUBACK's reason codes."""
        rc, mid = self.client.unsubscribe(filters)
        expect(rc == mqtt.MQTT_ERR_SUCCESS, f"{self.client_id}: UNSUBSCRIBE not sent: {rc}")
        return self._wait_ack(mid, f"UNSUBACK for {filters}")

    def publish(self, topic, payload, qos, retain=False, pub_props=None):
        """Publishes, waits for the QoS flow to complete and returns the
        reason code of the PUBACK/PUBREC (0 for QoS 0)."""
        p = props(PacketTypes.PUBLISH, **pub_props) if pub_props else None
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=p)
        code = self._wait_ack(("pub", info.mid), f"acknowledgement of {topic!r} at QoS {qos}")
        expect(code < 0x80, f"{self.client_id}: publish to {topic!r} at QoS {qos} "
                            f"refused with reason code {code:#04x}")
        return code

    def receive(self, count, timeout=TIMEOUT):
        """The next `count` messages."""
        got = []
        end = time.monotonic() + timeout
        for _ in range(count):
            try:
                got.append(self.messages.get(timeout=max(0.0, end - time.monotonic())))
            except queue.Empty:
                raise Mismatch(f"{self.client_id}: expected {count} messages, got "
                               f"{len(got)} within {timeout}s: {got}") from None
        return got

    def expect_nothing_more(self, quiet=QUIET):
        """Fails if another message arrives within `quiet` seconds."""
        try:
            extra = self.messages.get(timeout=quiet)
        except queue.Empty:
            return
        raise Mismatch(f"{self.client_id}: unexpected extra message {extra}")

    def disconnect(self):
        """Sends DISCONNECT (reason 0x00) and stops the network loop."""
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self):
        """Closes the socket without DISCONNECT, as a crashed client would."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()


def closing(*conns):
    """Disconnects every connection still open (for `finally:` blocks)."""
    for c in conns:
        try:
            c.disconnect()
        except Exception:  # already gone: nothing to close
            pass
