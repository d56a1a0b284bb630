#!/usr/bin/env python3
"""Restart time and memory of a broker holding a large store.

Fills a broker (midge, or Mosquitto with --mosquitto) with persistence on:
a persistent subscriber's queue of N QoS 1 messages and R retained topics,
stops it (SIGTERM, so Mosquitto writes its database; midge's store is
durable already), starts it again and reports how long until it accepts a
connection, its RSS then, the store's size on disk, and whether the
subscriber gets every message back.

usage: scripts/restart_bench.py [--queued N] [--retained R] [--mosquitto]
       [--kill] (SIGKILL instead of SIGTERM: midge only; Mosquitto would
       lose everything since its last autosave)
"""
import argparse, os, shutil, signal, socket, struct, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def s16(b):
    return struct.pack(">H", len(b)) + b


def connect(cid, clean):
    return packet(0x10, s16(b"MQTT") + bytes([4, 0x02 if clean else 0x00]) + struct.pack(">H", 600) + s16(cid))


def publish(topic, payload, qos, retain, pid=0):
    body = s16(topic) + (struct.pack(">H", pid) if qos else b"") + payload
    return packet(0x30 | (qos << 1) | int(retain), body)


def recv_packet(s, buf):
    while True:
        if len(buf) >= 2:
            n, shift, i = 0, 0, 1
            while i < len(buf):
                b = buf[i]
                n |= (b & 0x7F) << shift
                i += 1
                if not b & 0x80:
                    break
                shift += 7
            else:
                i = None
            if i is not None and len(buf) >= i + n:
                p = bytes(buf[: i + n])
                del buf[: i + n]
                return p, i
        chunk = s.recv(1 << 20)
        if not chunk:
            raise EOFError("broker closed the connection")
        buf.extend(chunk)


def dial(port, cid, clean):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(60)
    s.sendall(connect(cid, clean))
    buf = bytearray()
    p, _ = recv_packet(s, buf)
    assert p[0] == 0x20, p
    return s, buf, p[2] & 1


def wait_port(port, proc, limit=120):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if proc.poll() is not None:
            raise RuntimeError("broker exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return time.monotonic() - t0
        except OSError:
            time.sleep(0.005)
    raise RuntimeError("broker did not listen")


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queued", type=int, default=100_000)
    ap.add_argument("--retained", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--mosquitto", action="store_true")
    ap.add_argument("--kill", action="store_true")
    ap.add_argument("--port", type=int, default=18877)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="midge-restart-")
    store = os.path.join(tmp, "store") + "/"
    os.makedirs(store)
    conf = os.path.join(tmp, "b.conf")
    with open(conf, "w") as f:
        f.write(f"listener {a.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                f"persistence_location {store}\nmax_queued_messages 0\nmax_inflight_messages 20\n"
                "sys_interval 0\n")
    if a.mosquitto:
        cmd = ["mosquitto", "-c", conf]
    else:
        cmd = [os.path.join(ROOT, "target/release/midge"), "-c", conf]
    log = open(os.path.join(tmp, "broker.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        wait_port(a.port, proc)
        sub, _, _ = dial(a.port, b"restart-sub", False)
        sub.sendall(packet(0x82, struct.pack(">H", 1) + s16(b"q/#") + b"\x01"))
        sub.recv(16)
        sub.sendall(b"\xe0\x00")
        sub.close()
        pub, buf, _ = dial(a.port, b"restart-pub", True)
        payload = b"p" * a.size
        batch = bytearray()
        for i in range(a.retained):
            batch += publish(b"r/%d" % i, payload, 0, True)
        pub.sendall(batch)
        acks = 0
        for i in range(a.queued):
            pub.sendall(publish(b"q/x", payload, 1, False, i % 65535 + 1))
            if i - acks >= 1000:
                recv_packet(pub, buf)
                acks += 1
        while acks < a.queued:
            recv_packet(pub, buf)
            acks += 1
        pub.sendall(b"\xe0\x00")
        pub.close()
        rss_full = rss_kb(proc.pid)
        proc.send_signal(signal.SIGKILL if a.kill else signal.SIGTERM)
        proc.wait()
        disk = sum(os.path.getsize(os.path.join(store, f)) for f in os.listdir(store))
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        wait_port(a.port, proc)
        # Served once a CONNACK comes back (the port may be bound before
        # the store is read).
        sub, buf, present = dial(a.port, b"restart-sub", False)
        up = time.monotonic() - t0
        rss = rss_kb(proc.pid)
        got = 0
        while got < a.queued:
            p, h = recv_packet(sub, buf)
            if p[0] >> 4 == 3:
                got += 1
                tlen = struct.unpack(">H", p[h:h + 2])[0]
                pid = p[h + 2 + tlen:h + 4 + tlen]
                sub.sendall(b"\x40\x02" + pid)
        broker = "mosquitto" if a.mosquitto else "midge"
        print(f"{broker}: {a.queued} queued + {a.retained} retained ({a.size} B payloads); "
              f"RSS before stop {rss_full / 1024:.1f} MB; store on disk {disk / 1e6:.1f} MB; "
              f"restart to first CONNACK {up * 1000:.0f} ms; RSS after restart {rss / 1024:.1f} MB; "
              f"session present {present}; {got} messages back")
        log.flush()
        compactions = [l.strip() for l in open(os.path.join(tmp, "broker.log")) if "compacted" in l]
        if compactions:
            print(f"{len(compactions)} compactions while filling; the last: {compactions[-1]}")
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
