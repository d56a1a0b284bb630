#!/usr/bin/env python3
"""TLS interoperability checks of a broker with the paho-mqtt 2.x client.

Usage: paho_tls_check.py PORT CAFILE OTHER_CA CHECK

Connects to the TLS listener at 127.0.0.1:PORT with `tls_set`, trusting
CAFILE (which signed the broker's certificate, issued for 127.0.0.1) and
runs one check: `round_trip_311` and `round_trip_5` subscribe and publish
at QoS 1 over TLS with MQTT 3.1.1 or 5.0 and expect the message back once,
with its PUBACK; `wrong_ca` expects a client trusting OTHER_CA, a CA that
signed nothing here, to fail its handshake, for both protocol versions,
and the broker to go on serving clients with the right CA. Prints "ok:"
or "FAIL:" and exits 0 only if the check passed (1 on a mismatch, 2 on bad
usage or a missing paho-mqtt). Every wait is bounded and a watchdog ends
the script after DEADLINE seconds.
"""

import os
import queue
import signal
import ssl
import sys
import threading

try:
    import paho.mqtt
    import paho.mqtt.client as mqtt
except ImportError:
    print("FAIL: paho-mqtt 2.x is not installed: run scripts/test.sh")
    sys.exit(2)

TIMEOUT = 4.0
QUIET = 0.3
DEADLINE = 20
VERSIONS = {"3.1.1": mqtt.MQTTv311, "5.0": mqtt.MQTTv5}


class Mismatch(Exception):
    """A broker behaviour differing from what the check expects."""


def expect(cond, what):
    if not cond:
        raise Mismatch(what)


class TlsConn:
    """One paho client over TLS, trusting `cafile`, with its network loop
    on a background thread; messages and PUBACKs are queued."""

    def __init__(self, port, cafile, client_id, version):
        self.client_id = client_id
        self.messages = queue.Queue()
        self.acks = queue.Queue()
        self.connected = threading.Event()
        self.connack = None
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                        protocol=VERSIONS[version])
        c.tls_set(ca_certs=cafile, cert_reqs=ssl.CERT_REQUIRED)
        c.on_connect = self._on_connect
        c.on_message = lambda client, userdata, msg: self.messages.put(
            (msg.topic, bytes(msg.payload), msg.qos))
        c.on_publish = lambda client, userdata, mid, reason_code, properties: self.acks.put(
            (mid, reason_code.value))
        c.on_subscribe = lambda client, userdata, mid, reason_codes, properties: self.acks.put(
            (mid, [rc.value for rc in reason_codes]))
        self.client = c
        # The TLS handshake happens in connect(): a certificate the CA did
        # not sign raises here.
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        expect(self.connected.wait(TIMEOUT), f"{client_id}: no CONNACK within {TIMEOUT}s")
        expect(not self.connack.is_failure, f"{client_id}: CONNACK refused: {self.connack}")

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack = reason_code
        self.connected.set()

    def ack(self, mid, what):
        """Waits for the acknowledgement of `mid` and returns its code(s)."""
        try:
            got, code = self.acks.get(timeout=TIMEOUT)
        except queue.Empty:
            raise Mismatch(f"{self.client_id}: no {what} within {TIMEOUT}s") from None
        expect(got == mid, f"{self.client_id}: {what} for mid {got}, expected {mid}")
        return code

    def tls_version(self):
        return self.client.socket().version()

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def round_trip(port, cafile, version):
    """Subscribe at QoS 1, publish at QoS 1 over TLS: the PUBACK arrives
    and the message comes back once, unchanged."""
    tag = version.replace(".", "")
    conn = TlsConn(port, cafile, f"paho-tls-{tag}", version)
    try:
        topic = f"paho/tls/{tag}"
        result, mid = conn.client.subscribe(topic, qos=1)
        expect(result == mqtt.MQTT_ERR_SUCCESS, f"subscribe failed: {result}")
        expect(conn.ack(mid, "SUBACK") == [1], "SUBACK did not grant QoS 1")
        payload = bytes(range(256)) * 4
        info = conn.client.publish(topic, payload, qos=1)
        code = conn.ack(info.mid, "PUBACK")
        expect(code == 0, f"PUBACK with code {code:#04x}")
        try:
            got = conn.messages.get(timeout=TIMEOUT)
        except queue.Empty:
            raise Mismatch(f"the message did not come back within {TIMEOUT}s") from None
        expect(got == (topic, payload, 1), f"got {got[0]} QoS {got[2]}, {len(got[1])} bytes")
        try:
            extra = conn.messages.get(timeout=QUIET)
            raise Mismatch(f"a second copy arrived: {extra[0]}")
        except queue.Empty:
            pass
        return f"MQTT {version} QoS 1 round trip over {conn.tls_version()}"
    finally:
        conn.close()


def check_round_trip_311(port, cafile, other_ca):
    return round_trip(port, cafile, "3.1.1")


def check_round_trip_5(port, cafile, other_ca):
    return round_trip(port, cafile, "5.0")


def check_wrong_ca(port, cafile, other_ca):
    """A client trusting another CA fails its handshake (the broker's
    certificate does not verify); the broker still serves the right CA."""
    for version in VERSIONS:
        try:
            conn = TlsConn(port, other_ca, "paho-tls-wrong", version)
        except ssl.SSLCertVerificationError:
            continue
        conn.close()
        raise Mismatch(f"MQTT {version}: a client trusting another CA connected")
    round_trip(port, cafile, "3.1.1")
    return "certificate verification failed for MQTT 3.1.1 and 5.0; the right CA still connects"


CHECKS = {name[len("check_"):]: f for name, f in globals().items() if name.startswith("check_")}


def main():
    if len(sys.argv) != 5 or not sys.argv[1].isdigit() or sys.argv[4] not in CHECKS:
        print(f"usage: paho_tls_check.py PORT CAFILE OTHER_CA {'|'.join(CHECKS)}")
        return 2
    signal.signal(signal.SIGALRM, lambda *_: (print("FAIL: watchdog", flush=True), os._exit(1)))
    signal.alarm(DEADLINE)
    port, cafile, other_ca, name = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    print(f"paho-mqtt {getattr(paho.mqtt, '__version__', '?')} against 127.0.0.1:{port} (TLS)")
    try:
        print(f"ok: {name}: {CHECKS[name](port, cafile, other_ca)}", flush=True)
        return 0
    except Mismatch as e:
        print(f"FAIL: {name}: {e}", flush=True)
    except Exception as e:  # noqa: BLE001 - any crash is a failed check
        print(f"FAIL: {name}: {type(e).__name__}: {e}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
