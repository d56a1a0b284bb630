#!/usr/bin/env python3
"""Interoperability check of a midge broker with the paho-mqtt 2.x client.

Usage: paho_check.py PORT

Connects to 127.0.0.1:PORT with MQTT 3.1.1 and checks QoS 0/1/2 round trips
on wildcard subscriptions, retained messages, wills and persistent sessions.
Prints one "ok:" line per passed check and a "FAIL:" line per mismatch;
exits 0 only if every check passed (1 on a mismatch, 2 on bad usage or a
missing/old paho-mqtt). Every wait is bounded, so the script never hangs.
"""

import queue
import sys
import threading

try:
    import paho.mqtt
    import paho.mqtt.client as mqtt
except ImportError:
    print("FAIL: paho-mqtt is not installed (pip install 'paho-mqtt>=2')")
    sys.exit(2)

if not hasattr(mqtt, "CallbackAPIVersion"):
    print("FAIL: paho-mqtt 2.x is required (pip install 'paho-mqtt>=2')")
    sys.exit(2)

TIMEOUT = 4.0
QUIET = 0.3


class Mismatch(Exception):
    """A broker behaviour differing from what MQTT 3.1.1 requires."""


def expect(cond, what):
    if not cond:
        raise Mismatch(what)


class Conn:
    """One paho client running its network loop on a background thread."""

    def __init__(self, port, client_id, clean_session=True, will=None):
        self.client_id = client_id
        self.messages = queue.Queue()
        self.subacks = {}
        self.suback_cond = threading.Condition()
        self.connected = threading.Event()
        self.connack = None
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=clean_session,
        )
        if will is not None:
            topic, payload, qos = will
            c.will_set(topic, payload, qos=qos, retain=False)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self.client = c
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        expect(self.connected.wait(TIMEOUT), f"{client_id}: no CONNACK within {TIMEOUT}s")
        flags, rc = self.connack
        expect(not rc.is_failure, f"{client_id}: CONNACK refused: {rc}")
        self.session_present = flags.session_present

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack = (flags, reason_code)
        self.connected.set()

    def _on_message(self, client, userdata, msg):
        self.messages.put((msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self.suback_cond:
            self.subacks[mid] = [rc.value for rc in reason_codes]
            self.suback_cond.notify_all()

    def subscribe(self, topic_filter, qos):
        """Subscribes and checks the granted QoS in the SUBACK."""
        rc, mid = self.client.subscribe(topic_filter, qos)
        expect(rc == mqtt.MQTT_ERR_SUCCESS, f"{self.client_id}: subscribe not sent: {rc}")
        with self.suback_cond:
            got = self.suback_cond.wait_for(lambda: mid in self.subacks, TIMEOUT)
            expect(got, f"{self.client_id}: no SUBACK for {topic_filter!r}")
            granted = self.subacks[mid]
        expect(granted == [qos], f"{self.client_id}: SUBACK for {topic_filter!r} "
                                 f"at QoS {qos} granted {granted}")

    def publish(self, topic, payload, qos, retain=False):
        """Publishes and waits for the QoS flow to complete."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(TIMEOUT)
        expect(info.is_published(),
               f"{self.client_id}: publish to {topic!r} at QoS {qos} not acknowledged")

    def receive(self, count):
        """The next `count` messages as (topic, payload, qos, retain)."""
        got = []
        for _ in range(count):
            try:
                got.append(self.messages.get(timeout=TIMEOUT))
            except queue.Empty:
                raise Mismatch(f"{self.client_id}: expected {count} messages, got "
                               f"{len(got)} within {TIMEOUT}s: {got}") from None
        return got

    def expect_nothing_more(self):
        """Fails if another message arrives within a short while."""
        try:
            extra = self.messages.get(timeout=QUIET)
        except queue.Empty:
            return
        raise Mismatch(f"{self.client_id}: unexpected extra message {extra}")

    def disconnect(self):
        """Sends DISCONNECT and stops the network loop."""
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self):
        """Closes the socket without DISCONNECT, as a crashed client would."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()


def check_qos_round_trips(port):
    """QoS 0/1/2 messages reach wildcard subscribers at min(pub, sub) QoS
    [MQTT-3.8.4-6], in order per topic [MQTT-4.6.0-6], exactly once."""
    full = Conn(port, "paho-sub-q2")
    capped = Conn(port, "paho-sub-q1")
    publisher = Conn(port, "paho-pub")
    try:
        full.subscribe("paho/qos/#", 2)
        capped.subscribe("paho/+/+", 1)
        sent = []
        binary = bytes(range(256))
        for qos in (0, 1, 2):
            topic = f"paho/qos/{qos}"
            for i in range(5):
                payload = f"q{qos}-msg{i}".encode()
                publisher.publish(topic, payload, qos)
                sent.append((topic, payload, qos))
            publisher.publish(topic, binary, qos)
            sent.append((topic, binary, qos))
        for conn, max_qos in ((full, 2), (capped, 1)):
            got = conn.receive(len(sent))
            conn.expect_nothing_more()
            for qos in (0, 1, 2):
                topic = f"paho/qos/{qos}"
                want = [(t, p, min(q, max_qos), False) for t, p, q in sent if t == topic]
                have = [m for m in got if m[0] == topic]
                expect(have == want, f"{conn.client_id} on {topic}: "
                                     f"expected {want}, got {have}")
    finally:
        for c in (full, capped, publisher):
            c.disconnect()
    return "QoS 0/1/2 round trips (18 messages, 2 wildcard subscribers)"


def check_retained(port):
    """Retained messages reach new subscribers with RETAIN=1 [MQTT-3.3.1-8];
    an empty retained message clears them [MQTT-3.3.1-10]."""
    publisher = Conn(port, "paho-retain-pub")
    try:
        publisher.publish("paho/retained/state", b"on", 1, retain=True)
        reader = Conn(port, "paho-retain-reader")
        try:
            reader.subscribe("paho/retained/#", 1)
            got = reader.receive(1)
            expect(got == [("paho/retained/state", b"on", 1, True)],
                   f"retained message on subscribe: got {got}")
            publisher.publish("paho/retained/state", b"off", 1, retain=True)
            got = reader.receive(1)
            expect(got == [("paho/retained/state", b"off", 1, False)],
                   f"live retained publish to existing subscriber [MQTT-3.3.1-9]: got {got}")
        finally:
            reader.disconnect()
        publisher.publish("paho/retained/state", b"", 1, retain=True)
        after = Conn(port, "paho-retain-after")
        try:
            after.subscribe("paho/retained/#", 1)
            publisher.publish("paho/retained/marker", b"live", 0)
            got = after.receive(1)
            expect(got == [("paho/retained/marker", b"live", 0, False)],
                   f"after clearing the retained message the first delivery was {got}")
        finally:
            after.disconnect()
    finally:
        publisher.disconnect()
    return "retained message delivered, replaced and cleared"


def check_will(port):
    """A socket closed without DISCONNECT publishes the will [MQTT-3.1.2-8];
    a DISCONNECT discards it [MQTT-3.1.2-10]."""
    watcher = Conn(port, "paho-will-watcher")
    try:
        watcher.subscribe("paho/will/#", 2)
        victim = Conn(port, "paho-will-victim",
                      will=("paho/will/victim", b"victim vanished", 1))
        victim.drop()
        got = watcher.receive(1)
        expect(got == [("paho/will/victim", b"victim vanished", 1, False)],
               f"will after socket close: got {got}")

        polite = Conn(port, "paho-will-polite",
                      will=("paho/will/polite", b"must not appear", 1))
        polite.disconnect()
        marker = Conn(port, "paho-will-marker")
        try:
            marker.publish("paho/will/marker", b"after", 1)
        finally:
            marker.disconnect()
        got = watcher.receive(1)
        expect(got == [("paho/will/marker", b"after", 1, False)],
               f"after a clean DISCONNECT the watcher got {got} instead of the marker")
    finally:
        watcher.disconnect()
    return "will published on socket close, discarded on DISCONNECT"


def check_persistent_session(port):
    """CleanSession=0 resumes the session with Session Present=1
    [MQTT-3.2.2-2] and delivers QoS 1/2 messages queued while away
    [MQTT-3.1.2-4] [MQTT-3.1.2-5]."""
    first = Conn(port, "paho-persistent", clean_session=False)
    try:
        expect(not first.session_present,
               "first CleanSession=0 connect reported Session Present=1 [MQTT-3.2.2-3]")
        first.subscribe("paho/persist/#", 2)
    finally:
        first.disconnect()

    publisher = Conn(port, "paho-persist-pub")
    try:
        sent = [("paho/persist/a", b"p1", 1), ("paho/persist/a", b"p2", 2),
                ("paho/persist/b", b"p3", 1), ("paho/persist/a", b"p4", 2)]
        for topic, payload, qos in sent:
            publisher.publish(topic, payload, qos)
    finally:
        publisher.disconnect()

    back = Conn(port, "paho-persistent", clean_session=False)
    try:
        expect(back.session_present,
               "resumed CleanSession=0 connect reported Session Present=0 [MQTT-3.2.2-2]")
        got = back.receive(len(sent))
        back.expect_nothing_more()
        # Order is only defined per topic and QoS [MQTT-4.6.0-6]: paho hands
        # a QoS 2 message over when its PUBREL arrives, after later QoS 1 ones.
        for key in sorted({(t, q) for t, _, q in sent}):
            want = [(t, p, q, False) for t, p, q in sent if (t, q) == key]
            have = [m for m in got if (m[0], m[2]) == key]
            expect(have == want, f"queued messages on {key[0]} at QoS {key[1]}: "
                                 f"expected {want}, got {have}")
    finally:
        back.disconnect()

    clean = Conn(port, "paho-persistent", clean_session=True)
    try:
        expect(not clean.session_present,
               "CleanSession=1 connect reported Session Present=1 [MQTT-3.2.2-1]")
    finally:
        clean.disconnect()
    return "persistent session resumed with 4 queued QoS 1/2 messages"


CHECKS = [check_qos_round_trips, check_retained, check_will, check_persistent_session]


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print("usage: paho_check.py PORT")
        return 2
    port = int(sys.argv[1])
    print(f"paho-mqtt {getattr(paho.mqtt, '__version__', '?')} against 127.0.0.1:{port}")
    failures = 0
    for check in CHECKS:
        try:
            print(f"ok: {check.__name__}: {check(port)}", flush=True)
        except Mismatch as e:
            failures += 1
            print(f"FAIL: {check.__name__}: {e}", flush=True)
        except Exception as e:  # a crash in one check must not hide the others
            failures += 1
            print(f"FAIL: {check.__name__}: {type(e).__name__}: {e}", flush=True)
    print(f"{len(CHECKS) - failures}/{len(CHECKS)} checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
