//! A fake one-topic broker for the end-to-end tests of the flow engine:
//! blocking std sockets, a thread per connection, MQTT 3.1.1 or 5.0 as
//! each CONNECT asks. It acknowledges publishes and forwards them to the
//! subscriber at the subscription's QoS, misbehaving as `Forward` says.

use crate::decode::{self, Frame};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What the fake broker does with the messages it forwards.
#[derive(Clone, Copy)]
pub enum Forward {
    /// 3.1.1 style: forwards as sent, except it drops sequence number
    /// `drop` and sends `dup` twice.
    DropAndRepeat { drop: u32, dup: u32 },
    /// MQTT 5: the first copy sets topic alias 1, the others use it alone.
    Alias,
    /// MQTT 5: uses topic alias 1 without ever setting it.
    UnknownAlias,
    /// MQTT 5: answers the SUBSCRIBE with SUBACK and then DISCONNECT 0x8b.
    Disconnect,
    /// Answers an MQTT 5 CONNECT with CONNACK 0x84.
    RefuseV5,
}

/// The subscriber's side, shared by both connection threads.
struct Sub {
    stream: TcpStream,
    v5: bool,
    qos: u8,
    next_id: u16,
    alias_set: bool,
}

/// Appends a variable byte integer.
fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n % 128) as u8;
        n /= 128;
        out.push(if n > 0 { byte | 0x80 } else { byte });
        if n == 0 {
            return;
        }
    }
}

/// Encodes the forwarded copy of a message for the subscriber.
fn copy_for(sub: &mut Sub, topic: &[u8], payload: &[u8], forward: Forward) -> Vec<u8> {
    let mut body = Vec::new();
    let alias = match forward {
        Forward::Alias if sub.alias_set => Some((1u16, &b""[..])),
        Forward::Alias => {
            sub.alias_set = true;
            Some((1, topic))
        }
        Forward::UnknownAlias => Some((1, &b""[..])),
        _ => None,
    };
    let shown = alias.map_or(topic, |(_, t)| t);
    body.extend_from_slice(&(shown.len() as u16).to_be_bytes());
    body.extend_from_slice(shown);
    if sub.qos > 0 {
        sub.next_id = sub.next_id.checked_add(1).unwrap_or(1);
        body.extend_from_slice(&sub.next_id.to_be_bytes());
    }
    if sub.v5 {
        match alias {
            Some((a, _)) => body.extend_from_slice(&[3, 0x23, 0, a as u8]),
            None => body.push(0),
        }
    }
    body.extend_from_slice(payload);
    let mut out = vec![0x30 | (sub.qos << 1)];
    put_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// Writes `bytes` to a connection. Writes to the subscriber go through
/// the shared lock, so that its own replies never interleave with the
/// messages the publisher's thread forwards.
fn write(own: &mut TcpStream, sub: &Mutex<Option<Sub>>, is_sub: bool, bytes: &[u8]) {
    if is_sub {
        if let Some(s) = sub.lock().unwrap().as_mut() {
            let _ = s.stream.write_all(bytes);
            return;
        }
    }
    let _ = own.write_all(bytes);
}

/// Serves one connection until it closes.
fn serve(mut stream: TcpStream, sub: Arc<Mutex<Option<Sub>>>, forward: Forward) {
    let mut own = stream.try_clone().unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut v5 = false;
    let mut is_sub = false;
    loop {
        while let Frame::Packet { first, body, total } = decode::frame(&buf) {
            let packet: Vec<u8> = buf.drain(..total).collect();
            let b = &packet[body..];
            let mut send = |bytes: &[u8]| write(&mut own, &sub, is_sub, bytes);
            match first >> 4 {
                1 => {
                    v5 = b[6] == 5;
                    match (v5, forward) {
                        (true, Forward::RefuseV5) => return send(&[0x20, 3, 0, 0x84, 0]),
                        (true, _) => send(&[0x20, 3, 0, 0, 0]),
                        (false, _) => send(&[0x20, 2, 0, 0]),
                    }
                }
                8 => {
                    // Known as the subscriber before the SUBACK, which
                    // starts the publisher.
                    let qos = b[b.len() - 1] & 3;
                    *sub.lock().unwrap() = Some(Sub {
                        stream: stream.try_clone().unwrap(),
                        v5,
                        qos,
                        next_id: 0,
                        alias_set: false,
                    });
                    is_sub = true;
                    let mut send = |bytes: &[u8]| write(&mut own, &sub, is_sub, bytes);
                    if v5 {
                        send(&[0x90, 4, b[0], b[1], 0, qos]);
                    } else {
                        send(&[0x90, 3, b[0], b[1], qos]);
                    }
                    if let Forward::Disconnect = forward {
                        return send(&[0xE0, 2, 0x8B, 0]);
                    }
                }
                3 => {
                    let qos = (first >> 1) & 3;
                    let topic_len = usize::from(u16::from_be_bytes([b[0], b[1]]));
                    let topic = &b[2..2 + topic_len];
                    let mut at = 2 + topic_len;
                    if qos > 0 {
                        let ack = if qos == 1 { 0x40 } else { 0x50 };
                        send(&[ack, 2, b[at], b[at + 1]]);
                        at += 2;
                    }
                    if v5 {
                        at += 1 + usize::from(b[at]);
                    }
                    let payload = &b[at..];
                    let seq = u32::from_be_bytes(payload[4..8].try_into().unwrap());
                    let copies = match forward {
                        Forward::DropAndRepeat { drop, .. } if seq == drop => 0,
                        Forward::DropAndRepeat { dup, .. } if seq == dup => 2,
                        _ => 1,
                    };
                    let mut guard = sub.lock().unwrap();
                    let s = guard.as_mut().unwrap();
                    for _ in 0..copies {
                        let copy = copy_for(s, topic, payload, forward);
                        let _ = s.stream.write_all(&copy);
                    }
                }
                5 => send(&[0x62, 2, b[0], b[1]]),
                6 => send(&[0x70, 2, b[0], b[1]]),
                12 => send(&[0xD0, 0]),
                14 => return,
                _ => {}
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Starts the fake broker on a free loopback port for one publisher and
/// one subscriber connection; returns the port.
pub fn broker(forward: Forward) -> u16 {
    broker_for(forward, 2)
}

/// [`broker`] for `connections` connections in all, one after another or
/// at once (it closes each one at its DISCONNECT).
pub fn broker_for(forward: Forward, connections: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sub: Arc<Mutex<Option<Sub>>> = Arc::default();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let sub = Arc::clone(&sub);
            let stream = stream.unwrap();
            std::thread::spawn(move || serve(stream, sub, forward));
        }
    });
    port
}
