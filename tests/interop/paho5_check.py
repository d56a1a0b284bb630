#!/usr/bin/env python3
"""MQTT 5 interoperability checks of a broker with the paho-mqtt 2.x client.

Usage: paho5_check.py PORT [CHECK ...]

Connects to 127.0.0.1:PORT with MQTT 5.0 and runs the named checks (every
check when none is named; `--list` prints their names). Prints one "ok:"
line per passed check and a "FAIL:" line per mismatch; exits 0 only if
every check passed (1 on a mismatch, 2 on bad usage or a missing paho-mqtt).
The connection kit is paho5_kit.py. Every wait is bounded and a watchdog
ends the script after DEADLINE seconds, so it never hangs. The normative
statements of the MQTT 5.0 specification that a check covers are named in
its docstring.
"""

import os
import queue
import signal
import sys
import time

sys.dont_write_bytecode = True  # keep tests/interop free of __pycache__
from paho5_kit import (TIMEOUT, VERSION, Conn, Mismatch, PacketTypes,  # noqa: E402
                       SubscribeOptions, closing, expect, mqtt, prop, props)

DEADLINE = 25


def check_qos_round_trips(port):
    """QoS 0/1/2 reach wildcard subscribers at the minimum of published and
    granted QoS [MQTT-3.8.4-8], in order per topic [MQTT-4.6.0-6], once;
    publishes with subscribers are acknowledged with Success."""
    full = Conn(port, "paho5-sub-q2")
    capped = Conn(port, "paho5-sub-q1")
    publisher = Conn(port, "paho5-pub")
    try:
        full.subscribe("paho5/qos/#", 2)
        capped.subscribe("paho5/+/+", 1)
        sent = []
        for qos in (0, 1, 2):
            topic = f"paho5/qos/{qos}"
            for payload in [f"q{qos}-msg{i}".encode() for i in range(5)] + [bytes(range(256))]:
                code = publisher.publish(topic, payload, qos)
                expect(code == 0, f"publish at QoS {qos} with subscribers acknowledged with "
                                  f"{code:#04x}, not 0x00 Success [MQTT-3.4.2-1]")
                sent.append((topic, payload, qos))
        for conn, max_qos in ((full, 2), (capped, 1)):
            got = conn.receive(len(sent))
            conn.expect_nothing_more()
            for qos in (0, 1, 2):
                topic = f"paho5/qos/{qos}"
                want = [(t, p, min(q, max_qos)) for t, p, q in sent if t == topic]
                have = [(m.topic, m.payload, m.qos) for m in got if m.topic == topic]
                expect(have == want, f"{conn.client_id} on {topic}: expected {want}, got {have}")
    finally:
        closing(full, capped, publisher)
    return f"{len(sent)} messages at QoS 0/1/2 to 2 wildcard subscribers"


def check_session_resume(port):
    """Clean Start 0 with a Session Expiry Interval > 0 resumes the session
    after a DISCONNECT: Session Present is 1 [MQTT-3.2.2-3] and the QoS 1/2
    messages published while away arrive [MQTT-3.1.2-23]; without an expiry
    the session ends with the connection [MQTT-4.1.0-2]."""
    first = Conn(port, "paho5-resume", clean_start=True, session_expiry=30)
    try:
        expect(not first.session_present, "Clean Start 1 reported Session Present [MQTT-3.2.2-2]")
        first.subscribe("paho5/resume/#", 2)
    finally:
        first.disconnect()
    publisher = Conn(port, "paho5-resume-pub")
    sent = [("paho5/resume/a", b"r1", 1), ("paho5/resume/a", b"r2", 1),
            ("paho5/resume/b", b"r3", 2), ("paho5/resume/b", b"r4", 2)]
    try:
        for topic, payload, qos in sent:
            publisher.publish(topic, payload, qos)
    finally:
        publisher.disconnect()
    back = Conn(port, "paho5-resume", clean_start=False, session_expiry=30)
    try:
        expect(back.session_present, "resumed session reported Session Present 0 [MQTT-3.2.2-3]")
        got = back.receive(len(sent))
        back.expect_nothing_more()
        for key in sorted({(t, q) for t, _, q in sent}):
            want = [(t, p, q) for t, p, q in sent if (t, q) == key]
            have = [(m.topic, m.payload, m.qos) for m in got if (m.topic, m.qos) == key]
            expect(have == want, f"queued messages on {key}: expected {want}, got {have}")
    finally:
        back.disconnect()

    brief = Conn(port, "paho5-no-expiry", clean_start=False)
    try:
        brief.subscribe("paho5/resume/#", 1)
    finally:
        brief.disconnect()
    again = Conn(port, "paho5-no-expiry", clean_start=False)
    try:
        expect(not again.session_present,
               "a session without Session Expiry Interval outlived its connection "
               "(Session Present 1) [MQTT-4.1.0-2]")
    finally:
        again.disconnect()
    return f"session resumed with {len(sent)} queued messages; no expiry, no session"


def check_session_expiry(port):
    """A session whose Session Expiry Interval has passed is discarded
    [MQTT-4.1.0-2]: reconnecting gets Session Present 0 and no messages."""
    first = Conn(port, "paho5-expiring", clean_start=True, session_expiry=1)
    try:
        first.subscribe("paho5/expiring/#", 1)
    finally:
        first.disconnect()
    publisher = Conn(port, "paho5-expiring-pub")
    try:
        publisher.publish("paho5/expiring/x", b"lost with the session", 1)
    finally:
        publisher.disconnect()
    time.sleep(2.2)  # the 1 s expiry has to pass in real time
    back = Conn(port, "paho5-expiring", clean_start=False, session_expiry=1)
    try:
        expect(not back.session_present,
               "session still present 2.2 s after a 1 s Session Expiry Interval [MQTT-4.1.0-2]")
        back.expect_nothing_more()
    finally:
        back.disconnect()
    return "session discarded after its 1 s expiry"


def check_message_expiry(port):
    """A queued message whose Message Expiry Interval passed is not
    delivered [MQTT-3.3.2-5]; one still alive arrives with the interval
    lowered by the time it waited [MQTT-3.3.2-6]."""
    sub = Conn(port, "paho5-expiry-sub", session_expiry=30)
    try:
        sub.subscribe("paho5/expiry/#", 1)
    finally:
        sub.disconnect()
    publisher = Conn(port, "paho5-expiry-pub")
    try:
        publisher.publish("paho5/expiry/short", b"gone", 1, pub_props={"MessageExpiryInterval": 1})
        publisher.publish("paho5/expiry/long", b"kept", 1, pub_props={"MessageExpiryInterval": 60})
        publisher.publish("paho5/expiry/none", b"forever", 1)
    finally:
        publisher.disconnect()
    time.sleep(2.2)  # the 1 s message expiry has to pass in real time
    back = Conn(port, "paho5-expiry-sub", clean_start=False, session_expiry=30)
    try:
        expect(back.session_present, "session lost while away [MQTT-3.2.2-3]")
        got = back.receive(2)
        back.expect_nothing_more()
        expect([(m.topic, m.payload) for m in got] ==
               [("paho5/expiry/long", b"kept"), ("paho5/expiry/none", b"forever")],
               f"after 2.2 s expected the 60 s and the unlimited message only, got {got} "
               "[MQTT-3.3.2-5]")
        left = prop(got[0], "MessageExpiryInterval")
        expect(left is not None and 50 <= left <= 58,
               f"Message Expiry Interval after waiting 2.2 s was {left}, not 60 minus the "
               "wait [MQTT-3.3.2-6]")
        expect(prop(got[1], "MessageExpiryInterval") is None,
               "a message published without expiry arrived with one")
    finally:
        back.disconnect()
    return f"expired message dropped, live one delivered with {left} s left"


def will(name, delay):
    """Will arguments for `Conn`: QoS 1 on paho5/will/NAME, delayed `delay` s."""
    return (f"paho5/will/{name}", f"{name} gone".encode(), 1,
            props(PacketTypes.WILLMESSAGE, WillDelayInterval=delay))


def check_will_delay(port):
    """A will with a Will Delay Interval is published once the delay has
    passed after the socket dropped [MQTT-3.1.2-8], and not at all if the
    client reconnects to its session within the delay [MQTT-3.1.3-9]."""
    watcher = Conn(port, "paho5-will-watcher")
    try:
        watcher.subscribe("paho5/will/late", 1)
        watcher.subscribe("paho5/will/saved", 1)
        late = Conn(port, "paho5-will-late", session_expiry=30, will=will("late", 1))
        saved = Conn(port, "paho5-will-saved", session_expiry=30, will=will("saved", 2))
        dropped_at = time.monotonic()
        late.drop()
        saved.drop()
        saved = Conn(port, "paho5-will-saved", clean_start=False, session_expiry=30)
        try:
            expect(saved.session_present, "reconnect within the will delay lost the session")
            got = watcher.receive(1)
            arrived = time.monotonic() - dropped_at
            expect([(m.topic, m.payload) for m in got] == [("paho5/will/late", b"late gone")],
                   f"expected the will of paho5-will-late, got {got}")
            expect(arrived >= 0.9, f"will with a 1 s delay came {arrived:.2f}s after the drop")
            # The cancelled will would be due 2 s after the drop.
            watcher.expect_nothing_more(quiet=max(0.0, dropped_at + 3.0 - time.monotonic()))
        finally:
            saved.disconnect()
    finally:
        watcher.disconnect()
    return f"1 s-delay will after {arrived:.2f}s; a reconnect cancelled the 2 s-delay will"


def check_will_at_session_end(port):
    """The will is published when the Will Delay Interval passes or the
    session ends, whichever comes first [MQTT-3.1.2-8]: with Session
    Expiry Interval 0 the session ends with the connection, so a will
    delayed 30 s goes out at once."""
    watcher = Conn(port, "paho5-will-end-watcher")
    try:
        watcher.subscribe("paho5/will/ended", 1)
        ended = Conn(port, "paho5-will-ended", will=will("ended", 30))
        dropped_at = time.monotonic()
        ended.drop()
        got = watcher.receive(1)
        arrived = time.monotonic() - dropped_at
        expect([(m.topic, m.payload) for m in got] == [("paho5/will/ended", b"ended gone")],
               f"expected the will of paho5-will-ended, got {got}")
    finally:
        watcher.disconnect()
    return f"will of a 0 s session sent {arrived:.2f}s after the drop"


def check_shared_subscription(port):
    """`$share/g/...` delivers each message to exactly one member of the
    group, spreading them over both members (4.8.2); another group and a
    plain subscriber each get every message; topics arrive without the
    share prefix."""
    members = [Conn(port, "paho5-share-a"), Conn(port, "paho5-share-b")]
    loner = Conn(port, "paho5-share-other-group")
    plain = Conn(port, "paho5-share-plain")
    publisher = Conn(port, "paho5-share-pub")
    try:
        for m in members:
            m.subscribe("$share/g/paho5/shared/#", 1)
        loner.subscribe("$share/h/paho5/shared/#", 1)
        plain.subscribe("paho5/shared/#", 1)
        sent = [(f"paho5/shared/{i % 3}", f"job {i}".encode()) for i in range(20)]
        for topic, payload in sent:
            publisher.publish(topic, payload, 1)
        got = plain.receive(len(sent))
        plain.expect_nothing_more()
        expect([(m.topic, m.payload) for m in got] == sent,
               f"the plain subscriber expected every message in order, got {got}")
        got = loner.receive(len(sent))
        loner.expect_nothing_more()
        expect(sorted((m.topic, m.payload) for m in got) == sorted(sent),
               f"the one member of group h expected every message once, got {got}")
        shares = [[], []]
        end = time.monotonic() + TIMEOUT
        while sum(map(len, shares)) < len(sent) and time.monotonic() < end:
            for i, m in enumerate(members):
                try:
                    shares[i].append(m.messages.get(timeout=0.05))
                except queue.Empty:
                    pass
        for m in members:
            m.expect_nothing_more()
        got = sorted((m.topic, m.payload) for share in shares for m in share)
        expect(got == sorted(sent), f"group g did not get each message exactly once: {shares}")
        expect(all(shares), f"one member of group g got nothing: {[len(s) for s in shares]}")
    finally:
        closing(*members, loner, plain, publisher)
    return f"group of 2 split {len(sent)} messages {len(shares[0])}/{len(shares[1])}"


def check_topic_alias_from_client(port):
    """The broker accepts Topic Aliases up to the Topic Alias Maximum of its
    CONNACK [MQTT-3.3.2-12]: a PUBLISH with topic and alias sets the
    mapping, an alias-only PUBLISH uses it, a new topic re-maps it; a
    subscriber that sent no Topic Alias Maximum gets full topics and no
    alias [MQTT-3.1.2-27]."""
    sub = Conn(port, "paho5-alias-sub")
    publisher = Conn(port, "paho5-alias-pub")
    try:
        maximum = getattr(publisher.connack_props, "TopicAliasMaximum", 0)
        expect(maximum >= 2, f"CONNACK Topic Alias Maximum is {maximum}; need 2 for this check")
        sub.subscribe("paho5/alias/#", 1)
        first, second, third = ("paho5/alias/first/long/topic/name", "paho5/alias/second",
                                "paho5/alias/third")
        steps = [(first, 1, b"set 1"), ("", 1, b"use 1"), (third, 2, b"set 2"),
                 (second, 1, b"re-map 1"), ("", 2, b"use 2"), ("", 1, b"use re-mapped 1")]
        for topic, alias, payload in steps:
            publisher.publish(topic, payload, 1, pub_props={"TopicAlias": alias})
        got = sub.receive(len(steps))
        want = [(first, b"set 1"), (first, b"use 1"), (third, b"set 2"),
                (second, b"re-map 1"), (third, b"use 2"), (second, b"use re-mapped 1")]
        expect([(m.topic, m.payload) for m in got] == want,
               f"expected {want}, got {[(m.topic, m.payload) for m in got]}")
        aliased = [m for m in got if prop(m, "TopicAlias") is not None]
        expect(not aliased, f"alias sent to a client with no Topic Alias Maximum: {aliased}")
    finally:
        closing(sub, publisher)
    return f"6 aliased publishes resolved (CONNACK Topic Alias Maximum {maximum})"


def check_message_properties(port):
    """User Properties (duplicates and order kept), Content Type, Response
    Topic, Correlation Data and Payload Format Indicator reach subscribers
    unaltered, live and retained, at QoS 0/1/2 [MQTT-3.3.2-4]
    [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18]
    [MQTT-3.3.2-20]."""
    user = [("b", "2"), ("a", "1"), ("b", "3"), ("ünï", "cödé ✓"), ("", "empty key")]
    sent = {"UserProperty": user, "ContentType": "application/json; charset=utf-8",
            "ResponseTopic": "paho5/props/reply", "CorrelationData": b"\x00\x01corr\xff",
            "PayloadFormatIndicator": 1}
    sub = Conn(port, "paho5-props-sub")
    publisher = Conn(port, "paho5-props-pub")
    try:
        sub.subscribe("paho5/props/#", 2)
        for qos in (0, 1, 2):
            publisher.publish(f"paho5/props/q{qos}", b'{"v":1}', qos, pub_props=sent)
        publisher.publish("paho5/props/kept", b'{"v":2}', 1, retain=True, pub_props=sent)
        got = sub.receive(4)
        late = Conn(port, "paho5-props-late")
        try:
            late.subscribe("paho5/props/kept", 1)
            got += late.receive(1)
        finally:
            late.disconnect()
        for m in got:
            have = {name: prop(m, name) for name in sent}
            expect(have == sent, f"{m.topic} (retain={m.retain}) arrived with {have}, "
                                 f"sent {sent}")
        expect(got[-1].retain, "the retained copy arrived without RETAIN")
        publisher.publish("paho5/props/kept", b"", 1, retain=True)
    finally:
        closing(sub, publisher)
    return "5 properties kept on 3 live and 1 retained delivery"


def check_suback_reason_codes(port):
    """A SUBSCRIBE mixing valid and invalid filters gets a SUBACK with one
    reason code per filter, in order [MQTT-3.8.4-1] [MQTT-3.8.4-6]
    [MQTT-3.9.3-1]: the granted QoS or 0x8F Topic Filter invalid for a `#`
    not last [MQTT-4.7.1-1] or a `+` not alone in its level
    [MQTT-4.7.1-2]; the valid subscriptions work."""
    conn = Conn(port, "paho5-suback")
    # paho refuses to send invalid filters; the broker has to see them.
    conn.client._filter_wildcard_len_check = lambda topic_filter: mqtt.MQTT_ERR_SUCCESS
    try:
        codes = conn.subscribe_codes([("paho5/ok/a", SubscribeOptions(qos=1)),
                                      ("paho5/bad/#/x", SubscribeOptions(qos=1)),
                                      ("paho5/bad+", SubscribeOptions(qos=0)),
                                      ("paho5/ok/b", SubscribeOptions(qos=2))])
        expect(codes == [1, 0x8F, 0x8F, 2], f"SUBACK reason codes {[hex(c) for c in codes]}, "
                                            "expected [0x01, 0x8f, 0x8f, 0x02]")
        conn.publish("paho5/ok/b", b"still subscribed", 2)
        got = conn.receive(1)
        expect([(m.topic, m.qos) for m in got] == [("paho5/ok/b", 2)], f"got {got}")
    finally:
        closing(conn)
    return "SUBACK [0x01, 0x8f, 0x8f, 0x02]"


def check_unsuback_reason_codes(port):
    """UNSUBACK has one reason code per filter, in order [MQTT-3.11.3-1]:
    0x00 for a removed subscription, 0x11 No subscription existed
    [MQTT-3.11.3-2]; messages stop after UNSUBSCRIBE [MQTT-3.10.4-2]."""
    conn = Conn(port, "paho5-unsuback")
    try:
        conn.subscribe("paho5/unsub/a", 1)
        conn.subscribe("paho5/unsub/marker", 1)
        codes = conn.unsubscribe_codes(["paho5/unsub/never", "paho5/unsub/a"])
        expect(codes == [0x11, 0x00], f"UNSUBACK reason codes {[hex(c) for c in codes]}, "
                                      "expected [0x11, 0x00]")
        again = conn.unsubscribe_codes(["paho5/unsub/a"])
        expect(again == [0x11], f"second UNSUBSCRIBE got {[hex(c) for c in again]}, "
                                "expected [0x11]")
        conn.publish("paho5/unsub/a", b"nobody", 1)
        conn.publish("paho5/unsub/marker", b"marker", 1)
        got = conn.receive(1)
        expect([m.payload for m in got] == [b"marker"], f"after UNSUBSCRIBE got {got}")
    finally:
        closing(conn)
    return "UNSUBACK [0x11, 0x00] then [0x11]"


def check_subscription_options(port):
    """No Local [MQTT-3.8.3-3]; Retain Handling 0, 1 and 2 [MQTT-3.3.1-9]
    [MQTT-3.3.1-10] [MQTT-3.3.1-11]; Retain As Published 0 and 1
    [MQTT-3.3.1-12] [MQTT-3.3.1-13]; a Subscription Identifier comes back
    on the deliveries it caused [MQTT-3.3.4-3]."""
    conn = Conn(port, "paho5-options")
    other = Conn(port, "paho5-options-other")
    retained = ("paho5/opts/kept", "paho5/opts/hidden", "paho5/opts/plain")
    try:
        for topic in retained:
            other.publish(topic, b"retained", 1, retain=True)
        conn.subscribe("paho5/opts/local", 1, noLocal=True)
        conn.subscribe("paho5/opts/kept", 1, retainAsPublished=True)
        first = conn.receive(1)
        expect([(m.topic, m.payload, m.retain) for m in first] ==
               [("paho5/opts/kept", b"retained", True)],
               f"Retain Handling 0 sent {first} [MQTT-3.3.1-9]")
        conn.subscribe("paho5/opts/kept", 1, retainAsPublished=True,
                       retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        conn.subscribe("paho5/opts/hidden", 1,
                       retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
        conn.subscribe("paho5/opts/plain", 1)
        plain = conn.receive(1)
        expect([(m.topic, m.retain) for m in plain] == [("paho5/opts/plain", True)],
               f"Retain Handling 0 on a new filter sent {plain}")
        codes = conn.subscribe_codes([("paho5/opts/ids/#", SubscribeOptions(qos=1))],
                                     sub_props=props(PacketTypes.SUBSCRIBE,
                                                     SubscriptionIdentifier=7))
        expect(codes == [1], f"SUBACK for a subscription with an identifier: {codes}")
        conn.publish("paho5/opts/local", b"own", 1)
        for topic in retained:
            other.publish(topic, b"live", 1, retain=True)
        other.publish("paho5/opts/ids/x", b"with id", 1)
        got = conn.receive(4)
        conn.expect_nothing_more()
        have = [(m.topic, m.payload, m.retain) for m in got]
        want = [("paho5/opts/kept", b"live", True), ("paho5/opts/hidden", b"live", False),
                ("paho5/opts/plain", b"live", False), ("paho5/opts/ids/x", b"with id", False)]
        expect(have == want, f"expected {want} (no own message, no retained copy for "
                             f"Retain Handling 1 or 2), got {have}")
        ids = prop(got[3], "SubscriptionIdentifier")
        expect(ids == [7], f"Subscription Identifier on delivery: {ids}, expected [7]")
        expect(all(prop(m, "SubscriptionIdentifier") is None for m in got[:3]),
               "Subscription Identifier on deliveries of subscriptions without one")
        for topic in retained:
            other.publish(topic, b"", 1, retain=True)
    finally:
        closing(conn, other)
    return "no local, retain handling 0/1/2, retain as published 0/1, subscription identifier"


CHECKS = {f.__name__[len("check_"):]: f for f in [
    check_qos_round_trips, check_session_resume, check_session_expiry, check_message_expiry,
    check_will_delay, check_will_at_session_end, check_shared_subscription, check_topic_alias_from_client,
    check_message_properties, check_suback_reason_codes, check_unsuback_reason_codes,
    check_subscription_options]}


def main():
    args = sys.argv[1:]
    if args == ["--list"]:
        print("\n".join(CHECKS))
        return 0
    if not args or not args[0].isdigit() or any(a not in CHECKS for a in args[1:]):
        print(f"usage: paho5_check.py PORT [CHECK ...]; checks: {' '.join(CHECKS)}")
        return 2
    port = int(args[0])
    names = args[1:] or list(CHECKS)

    def watchdog(signum, frame):
        print(f"FAIL: still running after {DEADLINE}s", flush=True)
        os._exit(1)

    signal.signal(signal.SIGALRM, watchdog)
    signal.alarm(DEADLINE)
    print(f"paho-mqtt {VERSION} (MQTT 5) against 127.0.0.1:{port}")
    failures = 0
    for name in names:
        try:
            print(f"ok: {name}: {CHECKS[name](port)}", flush=True)
        except Mismatch as e:
            failures += 1
            print(f"FAIL: {name}: {e}", flush=True)
        except Exception as e:  # a crash in one check must not hide the others
            failures += 1
            print(f"FAIL: {name}: {type(e).__name__}: {e}", flush=True)
    print(f"{len(names) - failures}/{len(names)} checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
