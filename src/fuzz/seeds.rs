//! The seed inputs of each target, made from the codec's spec fixtures and
//! from scripted sessions, and a test that the stored corpus holds them.
//! `MIDGE_FUZZ_WRITE_SEEDS=1 cargo test --lib fuzz::seeds` writes the ones
//! missing (as `seed-<hash>`), after a change to the fixtures.

use std::collections::HashSet;
use std::fs;

use super::replay::{corpus, corpus_dir};
use crate::codec::Protocol;

/// Codec seeds: the protocol selector, then a fixture; and per protocol
/// all of its fixtures in one stream.
fn codec_seeds() -> Vec<Vec<u8>> {
    let fixtures = crate::codec::tests::all_fixtures();
    let select = |p: Protocol| match p {
        Protocol::V31 => 0u8,
        Protocol::V311 => 1,
        Protocol::V5 => 2,
    };
    let mut seeds: Vec<Vec<u8>> = fixtures
        .iter()
        .map(|(wire, p)| [&[select(*p)][..], wire].concat())
        .collect();
    for p in [Protocol::V31, Protocol::V311, Protocol::V5] {
        let mut stream = vec![select(p)];
        for (wire, _) in fixtures.iter().filter(|(_, q)| *q == p) {
            stream.extend_from_slice(wire);
        }
        seeds.push(stream);
    }
    seeds
}

/// Template operation `kind`/`p` on slot `slot` (see `broker::run`).
fn op(slot: u8, kind: u8, p: u8) -> [u8; 3] {
    [(slot << 3) | 4, kind, p]
}

/// Broker seeds: scripted sessions in template operations, and one in raw
/// bytes.
fn broker_seeds() -> Vec<Vec<u8>> {
    let read = |slot: u8| [(slot << 3) | 6];
    // CONNECT p: version p%3, id (p>>2)&3, clean 0x10, will 0x20, expiry p>>6.
    let v5_persistent = 2 | (1 << 6);
    let mut scripts = Vec::new();
    // QoS 2 both ways between a 5.0 and a 3.1.1 client, with a re-send.
    scripts.push(
        [
            &[0x1bu8][..],
            &op(0, 0, v5_persistent),
            &op(0, 1, 1 | (2 << 3)),
            &op(1, 0, 1 | (1 << 2) | 0x10),
            &op(1, 3, 2 | (1 << 5)),
            &op(1, 3, 2 | (1 << 5)),
            &op(1, 6, 1 << 5),
            &read(0),
            &op(0, 5, 0),
            &op(0, 7, 0),
            &read(1),
        ]
        .concat(),
    );
    // A persistent 3.1.1 session that goes away, gets queued QoS 1
    // messages and a will, and comes back.
    scripts.push(
        [
            &[0x0du8][..],
            &op(0, 0, 1 | 0x20),
            &op(0, 1, 2 | (1 << 3)),
            &[7],
            &op(1, 0, 1 | (1 << 2) | 0x10),
            &op(1, 3, 1 | (1 << 5)),
            &op(1, 3, 1 | 0x04),
            &[5, 40],
            &op(0, 0, 1),
            &read(0),
            &op(0, 4, 0),
        ]
        .concat(),
    );
    // Shared subscriptions, topic aliases and expiry, with the clock moving.
    scripts.push(
        [
            &[0x01u8][..],
            &op(0, 0, 2 | 0x10),
            &op(0, 1, 3 | (1 << 3)),
            &op(1, 0, 2 | (1 << 2) | 0x10),
            &op(1, 1, 7),
            &op(2, 0, 2 | (2 << 2) | 0x30 | (2 << 6)),
            &op(2, 3, 1 | 0x08 | 0x10),
            &op(2, 3, 0x10),
            &[5, 30],
            &read(0),
            &read(1),
            &op(2, 9, 1),
            &[5, 255],
        ]
        .concat(),
    );
    // The raw form of a 3.1.1 session, for byte-level mutation.
    let mut wire = Vec::new();
    for (bytes, _) in crate::codec::tests::all_fixtures()
        .iter()
        .filter(|(_, p)| *p == Protocol::V311)
    {
        wire.extend_from_slice(bytes);
    }
    let mut raw = vec![0x00u8];
    for chunk in wire.chunks(63) {
        raw.push(0);
        raw.push(chunk.len() as u8);
        raw.extend_from_slice(chunk);
    }
    raw.push(6);
    scripts.push(raw);
    // The same sessions with persistence on.
    let persisted: Vec<Vec<u8>> = scripts
        .iter()
        .map(|s| [&[s[0] | 0x80][..], &s[1..]].concat())
        .collect();
    scripts.extend(persisted);
    scripts
}

/// Config seeds: a realistic file, one with listeners and include_dir
/// files, one with bridges (in the main file and an included one), and
/// one per refused directive family.
fn config_seeds() -> Vec<Vec<u8>> {
    let plain = "# midge\nlistener 1883\nallow_anonymous true\nmax_inflight_messages 20\n\
                 max_queued_messages 1000\nmax_queued_bytes 0\nmessage_size_limit 0\n\
                 persistent_client_expiration 1d\nretry_interval 20\nsys_interval 10\n\
                 log_type error\nlog_type warning\nlog_dest stdout\nmax_keepalive 65535\n";
    let listeners = "per_listener_settings true\nlistener 1883 127.0.0.1\nmax_connections 10\n\
                     mount_point a/\nmax_topic_alias 5\nmax_qos 1\nprotocol mqtt\n\
                     listener 1884\nallow_zero_length_clientid false\ninclude_dir /etc/midge/conf.d\n\
                     \0port 1885\nbind_address 127.0.0.1\n\0upgrade_outgoing_qos true\n\
                     retain_available false\nmax_packet_size 2000\n";
    let bridges = "listener 1883\nconnection cloud\n\
                   address broker.example.com:8883 [::1]:1884 10.0.0.2\n\
                   topic sensors/# out 1 local/ remote/\ntopic \"\" in 2 cmd/local cmd/remote\n\
                   topic # both 0\nremote_clientid edge-1\nremote_username bridge\n\
                   remote_password secret\nbridge_protocol_version mqttv50\nstart_type lazy\n\
                   threshold 5\nrestart_timeout 5 60\nkeepalive_interval 30\n\
                   notification_topic bridges/cloud/state\nbridge_cafile /etc/ssl/ca.pem\n\
                   bridge_insecure false\ninclude_dir /etc/midge/conf.d\nround_robin true\n\
                   \0connection local\naddress 127.0.0.1\ntopic a/+ in\ncleansession true\n";
    let refused = "listener 1883\npassword_file /etc/p\nbridge_cafile x\npersistence true\n";
    vec![
        plain.into(),
        listeners.into(),
        bridges.into(),
        refused.into(),
    ]
}

/// Store seeds: real store files (a log; a snapshot and the log after
/// it) holding one record of every kind, and the same records in the
/// target's length-prefixed form.
fn store_seeds() -> Vec<Vec<u8>> {
    use crate::store::{Options, Store};
    let samples: Vec<Vec<u8>> = crate::store::record_tests::samples()
        .iter()
        .map(|r| {
            let mut b = Vec::new();
            r.encode(&mut b);
            b
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("midge-store-seeds-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let (mut store, _) = Store::open(&dir, "s", Options::default()).unwrap();
    for b in &samples {
        store.append(b).unwrap();
    }
    store.commit().unwrap();
    let log0 = fs::read(dir.join("s.0.log")).unwrap();
    let mut w = store.begin_compaction().unwrap();
    for b in &samples {
        w.write(b).unwrap();
    }
    store.finish_compaction(w).unwrap();
    store.append(&samples[0]).unwrap();
    store.commit().unwrap();
    let snap = fs::read(dir.join("s")).unwrap();
    let log1 = fs::read(dir.join("s.1.log")).unwrap();
    fs::remove_dir_all(&dir).unwrap();
    let len = |b: &[u8]| (b.len() as u16).to_le_bytes();
    let mut records = vec![0u8];
    for b in &samples {
        records.extend_from_slice(&len(b));
        records.extend_from_slice(b);
    }
    vec![
        [&[0u8][..], &log0].concat(),
        [&[1u8][..], &len(&snap), &snap, &log1].concat(),
        records,
    ]
}

/// ACL seeds: a realistic file (sections, patterns, denies, `$SYS`) with
/// clients and probes of each kind, and files that fail on a later line.
fn acl_seeds() -> Vec<Vec<u8>> {
    let file = "# sensors\ntopic read sensors/#\ntopic deny sensors/secret/#\n\
                user admin\ntopic readwrite #\ntopic read $SYS/#\n\
                user dev one\ntopic write devices/+/cmd\n\
                pattern read devices/%c/#\npattern write users/%u/out\n\
                pattern write $SYS/broker/connection/%c/state\npattern deny devices/%c/private\n";
    let probes = "sensors/+/temp\0sensors/secret/x\0#\0$SYS/#\0devices/d1/#\0\
                  users/admin/out\0$SYS/broker/connection/d1/state\0+/+/private";
    let seed = |flags: u8, text: &str| [&[flags][..], text.as_bytes()].concat();
    vec![
        seed(0, &format!("{file}\0d1\0\0{probes}")),
        seed(1, &format!("{file}\0d1\0admin\0{probes}")),
        seed(1, &format!("{file}\0a/b\0dev one\0{probes}")),
        seed(1, &format!("{file}\0d+\0x#\0{probes}")),
        seed(0, "topic read a\n\ttopic\tread b\n"),
        seed(0, "topic read a\nuser\n"),
        seed(0, "pattern deny\n"),
        seed(0, "topic write a/#/b\n"),
    ]
}

/// DER of `tag` with `content` (lengths up to 65535).
#[cfg(feature = "tls")]
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    match content.len() {
        n @ 0..=127 => v.push(n as u8),
        n => {
            v.push(0x82);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    v.extend_from_slice(content);
    v
}

/// Certificate seeds: hand-made certificates (the parts midge reads are
/// real, the key and signature placeholders) with plain, escaped,
/// multi-valued, non-ASCII and unknown attributes, and the same subjects
/// bare.
#[cfg(feature = "tls")]
fn x509_seeds() -> Vec<Vec<u8>> {
    let atv =
        |oid: &[u8], tag: u8, value: &[u8]| tlv(0x30, &[tlv(0x06, oid), tlv(tag, value)].concat());
    let cn: &[u8] = &[0x55, 0x04, 0x03];
    let o: &[u8] = &[0x55, 0x04, 0x0a];
    let c: &[u8] = &[0x55, 0x04, 0x06];
    let subjects = [
        [
            tlv(0x31, &atv(c, 0x13, b"GB")),
            tlv(0x31, &atv(o, 0x0c, b"Example, Ltd")),
            tlv(0x31, &atv(cn, 0x0c, b"dev1")),
        ]
        .concat(),
        tlv(
            0x31,
            &[atv(o, 0x0c, b"a+b"), atv(cn, 0x0c, b"#x ")].concat(),
        ),
        [
            tlv(0x31, &atv(cn, 0x1e, &[0x00, 0xe9, 0x20, 0xac])),
            tlv(0x31, &atv(cn, 0x14, &[0xe9, 0x01])),
            tlv(
                0x31,
                &atv(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37], 0x0c, b"x"),
            ),
            tlv(0x31, &atv(o, 0x04, &[0xab])),
        ]
        .concat(),
    ];
    let mut seeds = Vec::new();
    for subject in &subjects {
        let name = tlv(0x30, subject);
        let validity = tlv(
            0x30,
            &[tlv(0x17, b"200101000000Z"), tlv(0x18, b"20491231235959Z")].concat(),
        );
        let algorithm = tlv(
            0x30,
            &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
        );
        let tbs = tlv(
            0x30,
            &[
                tlv(0xa0, &tlv(0x02, &[2])),
                tlv(0x02, &[0x42]),
                algorithm.clone(),
                tlv(0x30, &tlv(0x31, &atv(cn, 0x0c, b"ca"))),
                validity,
                name,
                tlv(
                    0x30,
                    &[algorithm.clone(), tlv(0x03, &[0, 4, 1, 2])].concat(),
                ),
            ]
            .concat(),
        );
        seeds.push(tlv(
            0x30,
            &[tbs, algorithm, tlv(0x03, &[0, 0x30, 0])].concat(),
        ));
        seeds.push(subject.clone());
    }
    seeds
}

/// Password seeds: the files of `mosquitto_passwd` and the Argon2 tool,
/// one with comments, CRLF, blanks and a user named twice, and one with
/// the kinds midge cannot check.
fn password_seeds() -> Vec<Vec<u8>> {
    let mosquitto = include_str!("../auth/fixtures/password-mosquitto.txt");
    let argon2 = include_str!("../auth/fixtures/password-argon2id.txt");
    let mut lines = mosquitto.lines();
    let (first, second) = (
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
    );
    let decorated = format!(
        "\u{feff}# users\r\n\r\n {}\t\r\n{second}\r\n{first}",
        first.replace(':', " : ")
    );
    let unsupported = "sha256:$5$rounds=5000$salt$hash\nplain:secret\n\
                       legacy:$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA\n\
                       small:$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g\n";
    vec![
        mosquitto.into(),
        argon2.into(),
        decorated.into(),
        unsupported.into(),
    ]
}

/// WebSocket seeds: a selector byte, then upgrade requests (valid with
/// and without a subprotocol, refused) and client frames (a fragmented
/// message with a ping between, a close; an unmasked, a text and an
/// oversized frame).
#[cfg(feature = "websockets")]
fn ws_seeds() -> Vec<Vec<u8>> {
    use crate::ws::frame::{encode_frame, Opcode};
    let request = |extra: &str| {
        format!(
            "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
        .into_bytes()
    };
    let mask = Some([0x37, 0xfa, 0x21, 0x3d]);
    let mut first = encode_frame(Opcode::Binary, b"\x10\x0c\x00\x04MQ", mask);
    first[0] &= 0x7f;
    let fragmented = [
        first,
        encode_frame(Opcode::Ping, b"ping", mask),
        encode_frame(Opcode::Continuation, b"TT\x04\x02\x00\x3c\x00\x00", mask),
        encode_frame(Opcode::Binary, &[0xc0, 0x00], mask),
        encode_frame(Opcode::Close, &[0x03, 0xe8], mask),
    ]
    .concat();
    let oversized = encode_frame(Opcode::Binary, &[0u8; 300], mask);
    // 0x07: the largest header limit; 0x40: a 256-byte message limit.
    let selector = 0x47u8;
    [
        request("Sec-WebSocket-Protocol: mqtt\r\n"),
        request(""),
        request("Sec-WebSocket-Protocol: foo, mqttv3.1\r\n"),
        String::from_utf8_lossy(&request(""))
            .replace("Version: 13", "Version: 8")
            .into_bytes(),
        fragmented,
        encode_frame(Opcode::Binary, b"\xc0\x00", None),
        encode_frame(Opcode::Text, b"hello", mask),
        oversized,
    ]
    .into_iter()
    .map(|input| [&[selector][..], &input].concat())
    .collect()
}

/// Bridge seeds: a link that comes up and carries messages both ways, at
/// 3.1.1 and 5; one that is refused, fails over and restarts.
fn bridge_seeds() -> Vec<Vec<u8>> {
    // Operation bytes: 1 a b = a far-side template, 2 b = local publish,
    // 3 n = clock, 4 = link lost, 5 b = dials (b odd: opened), 6/7 = read.
    let up = [5u8, 1, 1, 0, 0, 6];
    let traffic = [
        2u8, 1, 2, 2, 1, 1, 1, 1, 1, 2, 6, 1, 3, 0, 1, 6, 0, 1, 1, 6, 1, 4, 1, 5, 0, 7, 6,
    ];
    let mut seeds = Vec::new();
    for select in [0x06u8, 0x07, 0x6b] {
        seeds.push(
            [
                &[select][..],
                &up,
                &traffic,
                &[4, 3, 20, 5, 1, 1, 0, 0x10, 6],
            ]
            .concat(),
        );
    }
    // Refused, failed dial, time passing, then up.
    seeds.push(vec![
        0x06, 5, 1, 1, 0, 1, 6, 5, 0, 3, 40, 5, 1, 1, 0, 0, 6, 3, 255, 6,
    ]);
    seeds
}

/// DNS seeds: a flags byte (see `fuzz::dns`), then replies as a resolver
/// sends them (a CNAME chain, two AAAA, NXDOMAIN, SERVFAIL, a truncated
/// one, one for the bare `broker` that the lookup searches), and a hosts
/// file and a resolv.conf as text.
fn dns_seeds() -> Vec<Vec<u8>> {
    use crate::dns::testdata::{reply, reply_rcode, Rr};
    use crate::dns::QType;
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let chain = reply(
        0x1234,
        "www.example.com",
        QType::A,
        &[
            Rr::cname("www.example.com", "example.com", 3600),
            Rr::other("example.com", 1, 1, &[93, 184, 216, 34]),
        ],
    );
    let six = reply(
        7,
        "broker.lan",
        QType::Aaaa,
        &[
            Rr::addr(ip("2001:db8::20"), 300),
            Rr::addr(ip("2001:db8::21"), 60),
        ],
    );
    let bare = reply(9, "broker", QType::A, &[Rr::addr(ip("192.168.1.20"), 60)]);
    let mut truncated = reply(3, "example.com", QType::A, &[Rr::addr(ip("192.0.2.1"), 60)]);
    truncated[2] |= 0x02;
    let hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n\
                 192.168.1.20 broker.lan broker # the bridge's peer\n";
    let conf = "nameserver 192.168.1.1\nnameserver fd00::1\nsearch lan\n\
                options timeout:1 attempts:3 ndots:1\n";
    let seed = |flags: u8, msg: &[u8]| [&[flags][..], msg].concat();
    vec![
        seed(0, &chain),
        seed(1, &six),
        seed(0, &reply_rcode(5, "broker.lan", QType::A, 3, &[])),
        seed(1, &reply_rcode(6, "example.com", QType::Aaaa, 2, &[])),
        seed(0, &truncated),
        seed(2, &bare),
        seed(4, hosts.as_bytes()),
        seed(0, conf.as_bytes()),
    ]
}

/// A stable name for a seed: FNV-1a of its bytes.
fn name(data: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("seed-{h:016x}")
}

/// Each seed certificate is read as far as its subject, which prints.
#[test]
#[cfg(feature = "tls")]
fn certificate_seeds_reach_the_subject() {
    for pair in x509_seeds().chunks(2) {
        let info = crate::tls::x509::parse(&pair[0]).expect("a seed certificate parses");
        assert_eq!(info.subject, &pair[1][..]);
        assert!(crate::tls::dn::rfc2253(info.subject).is_ok());
    }
}

#[test]
fn stored_corpora_hold_every_seed() {
    let write = std::env::var_os("MIDGE_FUZZ_WRITE_SEEDS").is_some();
    for (target, seeds) in [
        ("codec", codec_seeds()),
        ("broker", broker_seeds()),
        ("broker_acl", broker_seeds()),
        ("bridge", bridge_seeds()),
        ("config", config_seeds()),
        ("store", store_seeds()),
        ("acl", acl_seeds()),
        #[cfg(feature = "tls")]
        ("x509", x509_seeds()),
        ("password", password_seeds()),
        #[cfg(feature = "websockets")]
        ("ws", ws_seeds()),
        ("dns", dns_seeds()),
    ] {
        let dir = corpus_dir(target);
        let stored: HashSet<Vec<u8>> = corpus(&dir).into_iter().map(|(_, d)| d).collect();
        let missing: Vec<&Vec<u8>> = seeds.iter().filter(|s| !stored.contains(*s)).collect();
        if write {
            fs::create_dir_all(&dir).unwrap();
            for s in &missing {
                fs::write(dir.join(name(s)), s).unwrap();
            }
        } else {
            assert!(
                missing.is_empty(),
                "fuzz/corpus/{target} lacks {} seeds: run MIDGE_FUZZ_WRITE_SEEDS=1 cargo test --lib fuzz::seeds",
                missing.len()
            );
        }
    }
}
