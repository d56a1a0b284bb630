//! Codec benchmarks: PUBLISH decode and encode with 64 B and 4 KB payloads
//! for 3.1.1 and 5.0, and `check` framing a buffer of 100 packets.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use midge::codec::{
    check, decode, encode, encode_publish_header, ByteStr, Check, Packet, Protocol, Publish,
    PublishHeader, PublishProperties, QoS,
};

const SIZES: [usize; 2] = [64, 4096];
const PROTOCOLS: [Protocol; 2] = [Protocol::V311, Protocol::V5];

/// A QoS 1 PUBLISH as a broker typically sees it; in 5.0 with a message
/// expiry and one user property.
fn sample(payload_len: usize, protocol: Protocol) -> Publish {
    let properties = if protocol.is_v5() {
        PublishProperties {
            message_expiry: Some(3600),
            passthrough: Bytes::from_static(b"\x26\x00\x04unit\x00\x02C\xc2\xb0"),
            ..PublishProperties::default()
        }
    } else {
        PublishProperties::default()
    };
    Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: ByteStr::from("home/livingroom/sensor/temperature"),
        packet_id: 42,
        properties,
        payload: Bytes::from(vec![0xA5; payload_len]),
    }
}

fn wire(packet: &Packet, protocol: Protocol) -> Bytes {
    let mut out = BytesMut::new();
    encode(packet, protocol, &mut out);
    out.freeze()
}

fn publish_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_decode");
    for protocol in PROTOCOLS {
        for size in SIZES {
            let frame = wire(&Packet::Publish(sample(size, protocol)), protocol);
            group.throughput(Throughput::Bytes(frame.len() as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("v{protocol}"), size),
                &frame,
                |b, frame| b.iter(|| decode(black_box(frame.clone()), protocol)),
            );
        }
    }
    group.finish();
}

fn publish_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_encode");
    for protocol in PROTOCOLS {
        for size in SIZES {
            let p = sample(size, protocol);
            let header = PublishHeader::of(&p);
            let mut out = BytesMut::with_capacity(size + 128);
            group.throughput(Throughput::Bytes((size + 64) as u64));
            group.bench_function(BenchmarkId::new(format!("v{protocol}"), size), |b| {
                b.iter(|| {
                    out.clear();
                    encode_publish_header(black_box(&header), protocol, &mut out);
                    out.extend_from_slice(black_box(&p.payload));
                    out.len()
                })
            });
        }
    }
    group.finish();
}

fn check_100(c: &mut Criterion) {
    let mut buf = BytesMut::new();
    for i in 0..100 {
        let packet = Packet::Publish(sample(if i % 10 == 0 { 4096 } else { 64 }, Protocol::V311));
        encode(&packet, Protocol::V311, &mut buf);
    }
    let buf = buf.freeze();
    let mut group = c.benchmark_group("check");
    group.throughput(Throughput::Elements(100));
    group.bench_function("100_packets", |b| {
        b.iter(|| {
            let mut at = 0;
            let mut n = 0;
            while let Ok(Check::Ready { total }) = check(black_box(&buf[at..]), 1 << 20) {
                at += total;
                n += 1;
            }
            assert_eq!(n, 100);
            n
        })
    });
    group.finish();
}

criterion_group!(benches, publish_decode, publish_encode, check_100);
criterion_main!(benches);
