//! The client's half of the protocol on a bridge's link: CONNECT,
//! CONNACK (the link then takes the local session over), SUBSCRIBE and
//! UNSUBSCRIBE to the far side, PINGREQ, and the goodbye on shutdown.

use std::rc::Rc;
use std::time::{Duration, Instant};

use log::{info, warn};

use super::Phase;
use crate::broker::link::{Link, LinkState, V5Link};
use crate::broker::{keep_alive_window, Broker, CloseCause, Timer};
use crate::codec::{
    self, ByteStr, ConnAck, Connect, Packet, Properties, Protocol, PublishProperties, QoS,
    SubOptions, Subscribe, Unsubscribe, Will,
};
use crate::config::bridge::{Restart, StartType};
use crate::session::SubIds;

impl<T> Broker<T> {
    /// Dial `generation` of bridge `bridge` is connected: the link is set
    /// up and CONNECT queued on it. Returns the link, or gives the
    /// transport back when the dial is stale.
    pub fn bridge_connected(
        &mut self,
        bridge: usize,
        generation: u32,
        io: T,
        peer: std::net::SocketAddr,
        now: Instant,
    ) -> Result<usize, T> {
        if !self.dial_live(bridge, generation) {
            return Err(io);
        }
        if self.bridges[bridge].phase == Phase::Up {
            // The probe: the main address answers again.
            self.main_answers(bridge, now);
            return Err(io);
        }
        let link_generation = self.generation();
        let listener = self.bridge_base + bridge as u16;
        let id = self.links.insert(Link::new(
            io,
            peer,
            listener,
            link_generation,
            crate::broker::millis_since(self.started, now),
        ));
        if let Some(c) = self.per_listener.get_mut(usize::from(listener)) {
            *c += 1;
        }
        let b = &mut self.bridges[bridge];
        b.phase = Phase::Connecting;
        b.link = Some(id);
        let protocol = b.protocol();
        let connect = self.bridge_connect_packet(bridge);
        let link = &mut self.links[id];
        link.state = LinkState::AwaitConnack;
        link.protocol = protocol;
        link.session = self.bridges[bridge].sid as u32;
        self.send_packet(id, &Packet::Connect(Box::new(connect)));
        self.timers.schedule(
            now + self.settings.connect_timeout,
            Timer::ConnectTimeout {
                link: id as u32,
                generation: link_generation,
            },
        );
        Ok(id)
    }

    /// The CONNECT of bridge `b`: its remote client id and credentials,
    /// the `try_private` bit (3.x), and `0` on the state topic as its
    /// retained will, so the far side shows the link as down when it dies.
    pub(super) fn bridge_connect_packet(&self, b: usize) -> Connect {
        let bridge = &self.bridges[b];
        let conf = &bridge.conf;
        let protocol = bridge.protocol();
        let will = (conf.notifications && !conf.notifications_local_only).then(|| Will {
            topic: ByteStr::from(&*bridge.state_topic),
            payload: bytes::Bytes::from_static(b"0"),
            qos: QoS::AtLeastOnce,
            retain: true,
            delay_interval: 0,
            properties: PublishProperties::default(),
        });
        let properties = if protocol.is_v5() {
            Properties {
                // A persistent session on the far side lasts for ever, as
                // a 3.x one does.
                session_expiry: (!conf.clean_session).then_some(u32::MAX),
                receive_maximum: Some(self.settings.limits.max_inflight),
                topic_alias_maximum: Some(
                    self.settings
                        .listener(self.bridge_base + b as u16)
                        .max_topic_alias,
                )
                .filter(|&n| n > 0),
                maximum_packet_size: u32::try_from(self.settings.max_packet_size)
                    .ok()
                    .filter(|&m| m < crate::broker::MQTT_MAX_PACKET as u32),
                ..Properties::default()
            }
        } else {
            Properties::default()
        };
        Connect {
            protocol,
            clean_start: conf.clean_session,
            keep_alive: conf.keepalive,
            client_id: ByteStr::from(&*bridge.remote_id),
            will,
            username: conf.remote_username.as_deref().map(ByteStr::from),
            password: conf
                .remote_username
                .as_ref()
                .and(conf.remote_password.as_deref())
                .map(|p| bytes::Bytes::copy_from_slice(p.as_bytes())),
            properties,
            bridge: conf.try_private && bridge.private_ok && !protocol.is_v5(),
        }
    }

    /// The bridge whose link `id` is, if it is one.
    pub(in crate::broker) fn bridge_of(&self, id: usize) -> Option<usize> {
        let l = self.links.get(id)?;
        (l.listener >= self.bridge_base).then(|| usize::from(l.listener - self.bridge_base))
    }

    /// The first packet on a bridge's link: CONNACK. Accepted, the link
    /// takes the session over (as a client's CONNECT would); refused, the
    /// link ends and the restart timer runs.
    pub(in crate::broker) fn bridge_connack(&mut self, id: usize, packet: Packet, now: Instant) {
        let Some(b) = self.bridge_of(id) else {
            return;
        };
        let ack = match packet {
            Packet::ConnAck(a) => a,
            other => {
                let why = format!("{} before CONNACK", other.name());
                self.close_link(id, CloseCause::Protocol(why), now);
                return;
            }
        };
        if ack.code != 0 {
            self.bridge_refused(b, id, &ack, now);
            return;
        }
        self.bridge_attach(b, id, &ack, now);
    }

    /// CONNACK with a refusal: logged with its meaning. A 3.x broker that
    /// does not know the bridge bit says "unacceptable protocol version":
    /// the next attempt goes without it, at once.
    pub(super) fn bridge_refused(&mut self, b: usize, id: usize, ack: &ConnAck, now: Instant) {
        let protocol = self.links[id].protocol;
        let bridge = &mut self.bridges[b];
        let retry_plain = ack.code == codec::connack::UNACCEPTABLE_PROTOCOL_VERSION
            && !protocol.is_v5()
            && bridge.conf.try_private
            && bridge.private_ok;
        warn!(
            "bridge {}: connection refused by the remote broker: {}{}",
            bridge.conf.name,
            connack_meaning(ack.code, protocol),
            if retry_plain {
                " (trying again without try_private)"
            } else {
                ""
            }
        );
        if retry_plain {
            bridge.private_ok = false;
            bridge.redial_same = true;
        }
        self.close_link(
            id,
            CloseCause::Refused("CONNACK refused by the remote broker"),
            now,
        );
    }

    /// An accepted CONNACK: the link takes the local session, the far
    /// side's limits apply, the `in` topics are subscribed there, both
    /// sides hear `1` on the state topic, and what waited is sent.
    pub(super) fn bridge_attach(&mut self, b: usize, id: usize, ack: &ConnAck, now: Instant) {
        let sid = self.bridges[b].sid;
        let protocol = self.links[id].protocol;
        let v5 = protocol.is_v5();
        let conf = &self.bridges[b].conf;
        let keep_alive = match ack.properties.server_keep_alive {
            Some(k) if v5 => k,
            _ => conf.keepalive,
        };
        let max_packet = match (ack.properties.maximum_packet_size, conf.max_packet_size) {
            (Some(a), 0) => a,
            (Some(a), c) => a.min(c),
            (None, 0) => u32::MAX,
            (None, c) => c,
        };
        let link = &mut self.links[id];
        link.state = LinkState::Connected;
        link.session = sid as u32;
        link.keep_alive = keep_alive;
        // Whatever the protocol: the `out` rules live there.
        let alias_max = if v5 {
            ack.properties.topic_alias_maximum.unwrap_or(0)
        } else {
            0
        };
        let mut state = V5Link::new(max_packet, true, alias_max);
        state.remap = Some(self.bridges[b].out_rules.clone());
        link.v5 = Some(Box::new(state));
        let peer = link.peer;
        let generation = link.generation;
        let window = match ack.properties.receive_maximum {
            Some(max) if v5 => max.min(self.settings.limits.max_inflight),
            _ => self.settings.limits.max_inflight,
        };
        let s = &mut self.sessions[sid];
        s.link = Some(id as u32);
        s.disconnected_at = None;
        s.window = window;
        self.stats.connected += 1;
        if keep_alive > 0 {
            self.timers.schedule(
                now + Duration::from_secs(u64::from(keep_alive)),
                Timer::KeepAlive {
                    link: id as u32,
                    generation,
                },
            );
        }
        // The dial's timeout is stale from here.
        let fresh = self.generation();
        let bridge = &mut self.bridges[b];
        bridge.phase = Phase::Up;
        bridge.generation = fresh;
        bridge.delay = match bridge.conf.restart {
            Restart::Constant(d) => d,
            Restart::Backoff { base, .. } => base,
        };
        info!(
            "bridge {}: connected to {peer} as {} (MQTT {protocol}{})",
            bridge.conf.name,
            bridge.remote_id,
            if ack.session_present {
                ", session present"
            } else {
                ""
            }
        );
        let max_qos = match ack.properties.maximum_qos {
            Some(q) if v5 => QoS::from_u8(q).unwrap_or(QoS::ExactlyOnce),
            _ => QoS::ExactlyOnce,
        };
        let retain_ok = !(v5 && ack.properties.retain_available == Some(0));
        self.fit_out_topics(b, max_qos, retain_ok);
        self.bridge_subscribe(b, id);
        // What was in flight goes again first (PUBLISH with DUP, PUBREL),
        // then the queue, then the state message behind them.
        self.resume(sid, now);
        let conf = &self.bridges[b].conf;
        if conf.notifications && !conf.notifications_local_only {
            let msg = Rc::new(self.state_message(b, true));
            self.deliver(sid, &msg, QoS::AtLeastOnce, true, SubIds::None, now);
        }
        self.notify_local(b, true, now);
        if self.bridges[b].conf.start_type == StartType::Lazy {
            self.arm_idle(b, now);
        }
        self.arm_probe(b, now);
    }

    /// SUBSCRIBE to the far side's `in` topics (No Local and Retain As
    /// Published with MQTT 5, which a 3.x broker gets from the bridge bit),
    /// and UNSUBSCRIBE from its `out`-only ones unless
    /// `bridge_attempt_unsubscribe false` (a topic that was `in` before).
    pub(super) fn bridge_subscribe(&mut self, b: usize, id: usize) {
        let sid = self.bridges[b].sid;
        let conf = &self.bridges[b].conf;
        let filters: Vec<(ByteStr, SubOptions)> = conf
            .topics
            .iter()
            .filter(|t| t.direction.carries_in())
            .map(|t| {
                let options = SubOptions {
                    qos: t.qos,
                    no_local: true,
                    retain_as_published: true,
                    ..SubOptions::default()
                };
                (ByteStr::from(t.remote_filter()), options)
            })
            .collect();
        let unsubscribe: Vec<ByteStr> = if conf.attempt_unsubscribe {
            conf.topics
                .iter()
                .filter(|t| !t.direction.carries_in())
                .map(|t| ByteStr::from(t.remote_filter()))
                .collect()
        } else {
            Vec::new()
        };
        if !unsubscribe.is_empty() {
            let packet_id = self.sessions[sid].next_packet_id();
            self.send_packet(
                id,
                &Packet::Unsubscribe(Unsubscribe {
                    packet_id,
                    filters: unsubscribe,
                    properties: Properties::default(),
                }),
            );
        }
        if !filters.is_empty() {
            let packet_id = self.sessions[sid].next_packet_id();
            self.send_packet(
                id,
                &Packet::Subscribe(Subscribe {
                    packet_id,
                    filters,
                    properties: Properties::default(),
                }),
            );
        }
    }

    /// A packet only a client receives, on a connected link: SUBACK (a
    /// refused topic is logged), UNSUBACK and PINGRESP on a bridge's link;
    /// a protocol error from anyone else.
    pub(in crate::broker) fn client_side_packet(
        &mut self,
        id: usize,
        packet: Packet,
        now: Instant,
    ) {
        let Some(b) = self.bridge_of(id) else {
            let why = format!("unexpected {} from a client", packet.name());
            self.close_link(id, CloseCause::Protocol(why), now);
            return;
        };
        match packet {
            Packet::SubAck(ack) => {
                let conf = &self.bridges[b].conf;
                let remote: Vec<String> = conf
                    .topics
                    .iter()
                    .filter(|t| t.direction.carries_in())
                    .map(|t| t.remote_filter())
                    .collect();
                for (i, code) in ack.codes.iter().enumerate() {
                    if *code >= 0x80 {
                        warn!(
                            "bridge {}: the remote broker refused the subscription to {} (0x{code:02x})",
                            conf.name,
                            remote.get(i).map_or("?", String::as_str)
                        );
                    }
                }
            }
            Packet::UnsubAck(_) | Packet::PingResp => {}
            other => {
                let why = format!("unexpected {} from the remote broker", other.name());
                self.close_link(id, CloseCause::Protocol(why), now);
            }
        }
    }

    /// A keep-alive tick on bridge link `id`: silent for 1.5 keep-alive
    /// periods means the far side is gone; otherwise PINGREQ, and the next
    /// tick in one period.
    pub(in crate::broker) fn bridge_keep_alive(&mut self, id: usize, now: Instant) {
        let Some(l) = self.links.get(id) else {
            return;
        };
        let (k, last_rx, generation) = (l.keep_alive, l.last_rx, l.generation);
        let silent = now.saturating_duration_since(self.started + Duration::from_millis(last_rx));
        if silent >= keep_alive_window(k) {
            self.close_link(id, CloseCause::KeepAliveTimeout, now);
            return;
        }
        self.send_packet(id, &Packet::PingReq);
        self.timers.schedule(
            now + Duration::from_secs(u64::from(k)),
            Timer::KeepAlive {
                link: id as u32,
                generation,
            },
        );
    }

    /// DISCONNECT with reason 0 (normal) on bridge link `id`, as a client
    /// ends its connection.
    pub(super) fn send_normal_disconnect(&mut self, id: usize) {
        self.send_packet(
            id,
            &Packet::Disconnect(codec::Disconnect {
                reason: 0,
                properties: Properties::default(),
            }),
        );
    }

    /// The broker is stopping: no bridge connects again, and each one up
    /// tells the far side `0` on its state topic (a clean DISCONNECT
    /// suppresses the will that would say so) and disconnects.
    pub(in crate::broker) fn stop_bridges(&mut self, now: Instant) {
        for b in 0..self.bridges.len() {
            let bridge = &mut self.bridges[b];
            bridge.phase = Phase::Idle;
            bridge.generation = 0;
            let Some(id) = bridge.link else { continue };
            let conf = &bridge.conf;
            let up = self
                .links
                .get(id)
                .is_some_and(|l| l.state == LinkState::Connected);
            if up && conf.notifications && !conf.notifications_local_only {
                let topic = ByteStr::from(&*bridge.state_topic);
                self.send_packet(
                    id,
                    &Packet::Publish(codec::Publish {
                        dup: false,
                        qos: QoS::AtMostOnce,
                        retain: true,
                        topic,
                        packet_id: 0,
                        properties: PublishProperties::default(),
                        payload: bytes::Bytes::from_static(b"0"),
                    }),
                );
            }
            if up {
                self.send_normal_disconnect(id);
            }
            self.close_link(id, CloseCause::Shutdown, now);
        }
    }
}

/// What a refused CONNACK's code means, for the log.
fn connack_meaning(code: u8, protocol: Protocol) -> String {
    let text = if protocol.is_v5() {
        match code {
            0x84 => "unsupported protocol version",
            0x85 => "client identifier not valid",
            0x86 => "bad user name or password",
            0x87 => "not authorized",
            0x88 => "server unavailable",
            0x89 => "server busy",
            0x8A => "banned",
            0x8C => "bad authentication method",
            0x95 => "packet too large",
            0x97 => "quota exceeded",
            0x9C => "use another server",
            0x9D => "server moved",
            _ => "refused",
        }
    } else {
        match code {
            1 => "unacceptable protocol version",
            2 => "identifier rejected",
            3 => "server unavailable",
            4 => "bad user name or password",
            5 => "not authorized",
            _ => "refused",
        }
    };
    format!("{text} (0x{code:02x})")
}
