//! MQTT 5 behaviour of the broker, driven through the harness with a
//! hand-moved clock: CONNACK properties, session expiry, will delay,
//! message expiry, topic aliases, flow control, subscription options,
//! shared subscriptions and the server's DISCONNECT reason codes. The
//! helpers here build 5.0 packets; the tests are split by area.

use bytes::{BufMut, Bytes, BytesMut};

mod connect;
mod copies;
mod fuzz;
mod publish;
mod subscribe;

use super::harness::*;
use crate::broker::*;
use crate::codec::{
    reason, Ack, ByteStr, ConnAck, Connect, Disconnect, Packet, Properties, Protocol, Publish,
    PublishProperties, QoS, SubOptions, Subscribe, Unsubscribe, Will,
};

pub(super) fn connect5(id: &str, expiry: Option<u32>, clean: bool) -> Connect {
    Connect {
        protocol: Protocol::V5,
        clean_start: clean,
        keep_alive: 60,
        client_id: ByteStr::from(id),
        will: None,
        username: None,
        password: None,
        bridge: false,
        properties: Properties {
            session_expiry: expiry,
            ..Properties::default()
        },
    }
}

pub(super) fn publish5(
    topic: &str,
    payload: &str,
    qos: QoS,
    props: PublishProperties,
    id: u16,
) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic: ByteStr::from(topic),
        packet_id: id,
        properties: props,
        payload: Bytes::copy_from_slice(payload.as_bytes()),
    })
}

pub(super) fn sub5(
    packet_id: u16,
    filter: &str,
    options: SubOptions,
    sub_id: Option<u32>,
) -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id,
        filters: vec![(ByteStr::from(filter), options)],
        properties: Properties {
            subscription_identifier: sub_id,
            ..Properties::default()
        },
    })
}

pub(super) fn qos(q: QoS) -> SubOptions {
    SubOptions {
        qos: q,
        ..SubOptions::default()
    }
}

pub(super) fn v5_client(h: &mut Harness, id: &str) -> usize {
    let (link, ack) = h.connect(connect5(id, None, true));
    assert_eq!(ack.code, reason::SUCCESS);
    link
}

/// Subscribes and returns the SUBACK reason codes.
pub(super) fn suback(h: &mut Harness, link: usize, packet: Packet) -> Vec<u8> {
    h.send(link, packet);
    match h.recv(link).first() {
        Some(Packet::SubAck(a)) => a.codes.clone(),
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

/// The DISCONNECT reason the broker sent before closing `link`.
pub(super) fn disconnect_reason(h: &mut Harness, link: usize) -> Option<u8> {
    let got = h.recv(link);
    assert!(!h.is_open(link), "link still open after {got:?}");
    got.iter().find_map(|p| match p {
        Packet::Disconnect(d) => Some(d.reason),
        _ => None,
    })
}

pub(super) fn quiet(settings: Settings) -> Harness {
    Harness::with(Settings {
        sys_interval: None,
        ..settings
    })
}

pub(super) fn will_connect(id: &str, delay: u32, expiry: u32) -> Connect {
    let mut c = connect5(id, Some(expiry), true);
    c.will = Some(Will {
        topic: ByteStr::from("w"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtMostOnce,
        retain: false,
        delay_interval: delay,
        properties: PublishProperties::default(),
    });
    c
}

pub(super) fn expiring(secs: u32) -> PublishProperties {
    PublishProperties {
        message_expiry: Some(secs),
        ..PublishProperties::default()
    }
}

pub(super) fn aliased(alias: u16) -> PublishProperties {
    PublishProperties {
        topic_alias: Some(alias),
        ..PublishProperties::default()
    }
}

/// Forwarded property bytes: Payload Format Indicator `pfi`, then a
/// Response Topic when given.
pub(super) fn forwarded_props(pfi: u8, response_topic: Option<&str>) -> PublishProperties {
    let mut raw = BytesMut::new();
    raw.put_u8(0x01);
    raw.put_u8(pfi);
    if let Some(t) = response_topic {
        raw.put_u8(0x08);
        raw.put_u16(t.len() as u16);
        raw.put_slice(t.as_bytes());
    }
    PublishProperties {
        passthrough: raw.freeze(),
        ..PublishProperties::default()
    }
}
