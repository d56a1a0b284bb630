//! A fixed-seed mutation fuzzer over every fixture, and random packets of
//! every type encoded and decoded back.

use super::*;

#[test]
fn fuzz_mutated_fixtures_never_panic_and_stay_stable() {
    let fixtures = all_fixtures();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut decoded = 0;
    for _ in 0..40_000 {
        let (base, protocol) = &fixtures[rng.below(fixtures.len())];
        let mut buf = base.clone();
        for _ in 0..1 + rng.below(3) {
            match rng.below(6) {
                0 => {
                    let i = rng.below(buf.len().max(1));
                    if let Some(b) = buf.get_mut(i) {
                        *b ^= 1 << rng.below(8);
                    }
                }
                1 => buf.truncate(rng.below(buf.len() + 1)),
                2 => {
                    let i = rng.below(buf.len().max(1));
                    if let Some(b) = buf.get_mut(i) {
                        *b = rng.byte();
                    }
                }
                3 => {
                    let i = rng.below(buf.len() + 1);
                    buf.insert(i, rng.byte());
                }
                4 => {
                    for _ in 0..rng.below(8) {
                        buf.push(rng.byte());
                    }
                }
                _ => {
                    // Keep the remaining length consistent with a mutated
                    // body so that the decoder, not only check, is reached.
                    if buf.len() >= 2 && buf.len() < 129 {
                        buf[1] = (buf.len() - 2) as u8;
                        let i = 2 + rng.below(buf.len() - 1);
                        if let Some(b) = buf.get_mut(i) {
                            *b = rng.byte();
                        }
                    }
                }
            }
        }
        let protocol = if rng.one_in(8) {
            [V31, V311, V5][rng.below(3)]
        } else {
            *protocol
        };
        // The decoder must survive a frame that check did not bless.
        let _ = dec(&buf, protocol);
        if let Ok(Check::Ready { total }) = check(&buf, 1 << 16) {
            if let Ok(packet) = dec(&buf[..total], protocol) {
                decoded += 1;
                assert_stable(&packet, protocol);
            }
        }
    }
    assert!(decoded > 1_000, "only {decoded} mutants decoded");
}

const WORDS: &[&str] = &["a", "sensor", "+", "#", "é", "ü/x", "$SYS", "", "k-1"];

fn rand_str(rng: &mut Rng) -> ByteStr {
    let n = rng.below(4);
    let parts: Vec<&str> = (0..n).map(|_| WORDS[rng.below(WORDS.len())]).collect();
    ByteStr::from(parts.join("/"))
}

fn rand_bytes(rng: &mut Rng, max: usize) -> Bytes {
    let n = rng.below(max + 1);
    (0..n).map(|_| rng.byte()).collect::<Vec<u8>>().into()
}

fn rand_id(rng: &mut Rng) -> u16 {
    1 + rng.below(0xFFFF) as u16
}

fn rand_qos(rng: &mut Rng) -> QoS {
    [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][rng.below(3)]
}

fn maybe<T>(rng: &mut Rng, f: impl FnOnce(&mut Rng) -> T) -> Option<T> {
    if rng.one_in(2) {
        Some(f(rng))
    } else {
        None
    }
}

fn rand_user(rng: &mut Rng) -> Vec<(ByteStr, ByteStr)> {
    (0..rng.below(3))
        .map(|_| (rand_str(rng), rand_str(rng)))
        .collect()
}

/// Valid passthrough bytes: payload format, content type, correlation data
/// and user properties, in a random selection.
fn rand_passthrough(rng: &mut Rng) -> Bytes {
    let mut out = Vec::new();
    if rng.one_in(2) {
        out.extend_from_slice(&[0x01, rng.below(2) as u8]);
    }
    if rng.one_in(2) {
        let ct = rand_str(rng);
        out.push(0x03);
        out.extend_from_slice(&(ct.len() as u16).to_be_bytes());
        out.extend_from_slice(ct.as_bytes());
    }
    if rng.one_in(2) {
        let data = rand_bytes(rng, 6);
        out.push(0x09);
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    for (k, v) in rand_user(rng) {
        out.push(0x26);
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u16).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out.into()
}

/// Random properties valid in a packet of `kind` (a `Packet::name`).
fn rand_properties(rng: &mut Rng, kind: &str) -> Properties {
    let mut p = Properties {
        user: rand_user(rng),
        ..Properties::default()
    };
    let reason_string = |rng: &mut Rng| maybe(rng, rand_str);
    match kind {
        "CONNECT" => {
            p.session_expiry = maybe(rng, |r| r.next() as u32);
            p.receive_maximum = maybe(rng, rand_id);
            p.maximum_packet_size = maybe(rng, |r| 1 + r.below(1 << 20) as u32);
            p.topic_alias_maximum = maybe(rng, |r| r.next() as u16);
            p.request_response_information = maybe(rng, |r| r.below(2) as u8);
            p.request_problem_information = maybe(rng, |r| r.below(2) as u8);
            p.authentication_method = maybe(rng, rand_str);
            if p.authentication_method.is_some() {
                p.authentication_data = maybe(rng, |r| rand_bytes(r, 8));
            }
        }
        "CONNACK" => {
            p.session_expiry = maybe(rng, |r| r.next() as u32);
            p.receive_maximum = maybe(rng, rand_id);
            p.maximum_packet_size = maybe(rng, |r| 1 + r.below(1 << 20) as u32);
            p.topic_alias_maximum = maybe(rng, |r| r.next() as u16);
            p.assigned_client_identifier = maybe(rng, rand_str);
            p.server_keep_alive = maybe(rng, |r| r.next() as u16);
            p.response_information = maybe(rng, rand_str);
            p.server_reference = maybe(rng, rand_str);
            p.reason_string = reason_string(rng);
            p.maximum_qos = maybe(rng, |r| r.below(2) as u8);
            p.retain_available = maybe(rng, |r| r.below(2) as u8);
            p.wildcard_subscription_available = maybe(rng, |r| r.below(2) as u8);
            p.subscription_identifier_available = maybe(rng, |r| r.below(2) as u8);
            p.shared_subscription_available = maybe(rng, |r| r.below(2) as u8);
        }
        "SUBSCRIBE" => {
            p.subscription_identifier = maybe(rng, |r| 1 + r.below(268_435_455) as u32);
        }
        "DISCONNECT" => {
            p.session_expiry = maybe(rng, |r| r.next() as u32);
            p.server_reference = maybe(rng, rand_str);
            p.reason_string = reason_string(rng);
        }
        "AUTH" => {
            p.authentication_method = maybe(rng, rand_str);
            if p.authentication_method.is_some() {
                p.authentication_data = maybe(rng, |r| rand_bytes(r, 8));
            }
            p.reason_string = reason_string(rng);
        }
        "UNSUBSCRIBE" => {}
        _ => p.reason_string = reason_string(rng),
    }
    p
}

fn rand_publish_properties(rng: &mut Rng, will: bool) -> PublishProperties {
    PublishProperties {
        message_expiry: maybe(rng, |r| r.next() as u32),
        topic_alias: if will { None } else { maybe(rng, rand_id) },
        subscription_ids: if will {
            Vec::new()
        } else {
            (0..rng.below(3))
                .map(|_| 1 + rng.below(268_435_455) as u32)
                .collect()
        },
        passthrough: rand_passthrough(rng),
    }
}

fn rand_reason(rng: &mut Rng, kind: &str) -> u8 {
    let codes = reasons(kind);
    if rng.one_in(2) {
        0
    } else {
        codes[rng.below(codes.len())]
    }
}

/// A random packet as `decode` would return it for `protocol`.
fn rand_packet(rng: &mut Rng, protocol: Protocol, which: usize) -> Packet {
    let v5 = protocol.is_v5();
    let props = |rng: &mut Rng, kind: &str| {
        if v5 {
            rand_properties(rng, kind)
        } else {
            Properties::default()
        }
    };
    let ack = |rng: &mut Rng, kind: &str| {
        let packet_id = rand_id(rng);
        if !v5 {
            return Ack::new(packet_id);
        }
        Ack {
            packet_id,
            reason: rand_reason(rng, kind),
            properties: if rng.one_in(2) {
                Properties::default()
            } else {
                rand_properties(rng, kind)
            },
        }
    };
    match which {
        0 => {
            let will = maybe(rng, |rng| Will {
                topic: rand_str(rng),
                payload: rand_bytes(rng, 16),
                qos: rand_qos(rng),
                retain: rng.one_in(2),
                delay_interval: if v5 { rng.next() as u32 } else { 0 },
                properties: if v5 {
                    rand_publish_properties(rng, true)
                } else {
                    PublishProperties::default()
                },
            });
            let username = maybe(rng, rand_str);
            let password = if v5 || username.is_some() {
                maybe(rng, |r| rand_bytes(r, 8))
            } else {
                None
            };
            Packet::Connect(Box::new(Connect {
                protocol,
                clean_start: rng.one_in(2),
                keep_alive: rng.next() as u16,
                client_id: rand_str(rng),
                will,
                username,
                password,
                bridge: false,
                properties: props(rng, "CONNECT"),
            }))
        }
        1 => Packet::ConnAck(ConnAck {
            session_present: protocol != V31 && rng.one_in(2),
            code: if v5 {
                rand_reason(rng, "CONNACK")
            } else {
                rng.byte()
            },
            properties: props(rng, "CONNACK"),
        }),
        2 => {
            let qos = rand_qos(rng);
            Packet::Publish(Publish {
                dup: qos != QoS::AtMostOnce && rng.one_in(2),
                qos,
                retain: rng.one_in(2),
                topic: match rand_str(rng) {
                    // An empty MQTT 5 topic needs a Topic Alias.
                    t if v5 && t.is_empty() => s("t"),
                    t => t,
                },
                packet_id: if qos == QoS::AtMostOnce {
                    0
                } else {
                    rand_id(rng)
                },
                properties: if v5 {
                    rand_publish_properties(rng, false)
                } else {
                    PublishProperties::default()
                },
                payload: rand_bytes(rng, 300),
            })
        }
        3 => Packet::PubAck(ack(rng, "PUBACK")),
        4 => Packet::PubRec(ack(rng, "PUBREC")),
        5 => Packet::PubRel(ack(rng, "PUBREL")),
        6 => Packet::PubComp(ack(rng, "PUBCOMP")),
        7 => Packet::Subscribe(Subscribe {
            packet_id: rand_id(rng),
            filters: (0..1 + rng.below(4))
                .map(|_| {
                    let options = SubOptions {
                        qos: rand_qos(rng),
                        no_local: v5 && rng.one_in(2),
                        retain_as_published: v5 && rng.one_in(2),
                        retain_handling: if v5 { rng.below(3) as u8 } else { 0 },
                    };
                    (rand_str(rng), options)
                })
                .collect(),
            properties: props(rng, "SUBSCRIBE"),
        }),
        8 => Packet::SubAck(SubAck {
            packet_id: rand_id(rng),
            codes: (0..1 + rng.below(4))
                .map(|_| {
                    if v5 {
                        rand_reason(rng, "SUBACK")
                    } else {
                        [0, 1, 2, 0x80][rng.below(4)]
                    }
                })
                .collect(),
            properties: props(rng, "SUBACK"),
        }),
        9 => Packet::Unsubscribe(Unsubscribe {
            packet_id: rand_id(rng),
            filters: (0..1 + rng.below(4)).map(|_| rand_str(rng)).collect(),
            properties: props(rng, "UNSUBSCRIBE"),
        }),
        10 => Packet::UnsubAck(UnsubAck {
            packet_id: rand_id(rng),
            codes: if v5 {
                (0..1 + rng.below(4))
                    .map(|_| rand_reason(rng, "UNSUBACK"))
                    .collect()
            } else {
                Vec::new()
            },
            properties: props(rng, "UNSUBACK"),
        }),
        11 => Packet::PingReq,
        12 => Packet::PingResp,
        13 => Packet::Disconnect(if v5 {
            Disconnect {
                reason: rand_reason(rng, "DISCONNECT"),
                properties: props(rng, "DISCONNECT"),
            }
        } else {
            Disconnect::default()
        }),
        _ if rng.one_in(4) => Packet::Auth(Auth::default()),
        _ => Packet::Auth(Auth {
            reason: rand_reason(rng, "AUTH"),
            properties: Properties {
                // Only the empty AUTH may leave the method out.
                authentication_method: Some(rand_str(rng)),
                ..props(rng, "AUTH")
            },
        }),
    }
}

#[test]
fn random_packets_of_every_type_round_trip() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for round in 0..6_000 {
        let protocol = [V31, V311, V5][round % 3];
        let kinds = if protocol.is_v5() { 15 } else { 14 };
        let which = rng.below(kinds);
        let packet = rand_packet(&mut rng, protocol, which);
        let wire = enc(&packet, protocol);
        assert_eq!(
            check(&wire, wire.len()),
            Ok(Check::Ready { total: wire.len() }),
            "{packet:?}"
        );
        assert_eq!(
            decode(Bytes::from(wire.clone()), protocol),
            Ok(packet.clone()),
            "{wire:02x?}"
        );
        if let Packet::Publish(p) = &packet {
            let header = PublishHeader::of(p);
            assert_eq!(
                publish_header_len(&header, protocol),
                wire.len() - p.payload.len()
            );
        }
    }
}
