//! Topic tree and retained store benchmarks: matching one PUBLISH topic
//! against 10,000 subscriptions, walking 10,000 retained topics with a
//! wildcard filter, and the child-lookup choice (sorted vector vs hash map)
//! behind the tree's nodes.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use midge::topic::{RetainedStore, TopicTree};

const ROOMS: usize = 40;
const DEVICES: usize = 24;
const METRICS: usize = 10;

/// 9,600 exact `house/{room}/{device}/{metric}` filters and 400 wildcard
/// ones, one subscriber each: 10,000 subscriptions.
fn house_tree() -> TopicTree<u8> {
    let mut tree = TopicTree::new();
    let mut id = 0u32;
    let mut sub = |tree: &mut TopicTree<u8>, filter: String| {
        tree.subscribe(&filter, id, 1);
        id += 1;
    };
    for r in 0..ROOMS {
        for d in 0..DEVICES {
            for m in 0..METRICS {
                sub(&mut tree, format!("house/room{r}/dev{d}/metric{m}"));
            }
        }
        sub(&mut tree, format!("house/room{r}/#"));
        sub(&mut tree, format!("house/room{r}/+/metric0"));
    }
    for d in 0..DEVICES {
        sub(&mut tree, format!("house/+/dev{d}/#"));
    }
    for m in 0..METRICS {
        sub(&mut tree, format!("house/+/+/metric{m}"));
    }
    for i in 0..(400 - 2 * ROOMS - DEVICES - METRICS) {
        sub(&mut tree, format!("alarm/zone{i}/+"));
    }
    assert_eq!(tree.len(), 10_000);
    tree
}

fn count_tree(tree: &TopicTree<u8>, topic: &str) -> usize {
    let mut n = 0;
    tree.for_each_match(topic, |s, _| n += s as usize & 1 | 1);
    n
}

fn bench_tree(c: &mut Criterion) {
    let tree = house_tree();
    let mut g = c.benchmark_group("tree_match_10k");
    for (name, topic, want) in [
        ("five_matches", "house/room7/dev3/metric0", 5),
        ("one_exact_two_wild", "house/room7/dev3/metric4", 4),
        ("none_inside_house", "house/attic/lamp/power", 0),
        ("none_unknown_root", "garden/shed/light/state", 0),
    ] {
        assert_eq!(count_tree(&tree, topic), want, "{topic}");
        g.bench_function(name, |b| b.iter(|| count_tree(&tree, black_box(topic))));
    }
    g.finish();

    // One node with 10,000 exact children.
    let mut wide = TopicTree::new();
    for i in 0..10_000u32 {
        wide.subscribe(&format!("dev/{i}/state"), i, 1u8);
    }
    c.bench_function("tree_match_wide_10k_children", |b| {
        b.iter(|| count_tree(&wide, black_box("dev/5000/state")))
    });
}

fn bench_retained(c: &mut Criterion) {
    let mut store = RetainedStore::new();
    for r in 0..ROOMS {
        for d in 0..DEVICES {
            for m in 0..METRICS {
                store.insert(&format!("house/room{r}/dev{d}/metric{m}"), 1u8);
            }
        }
    }
    for i in 0..(10_000 - ROOMS * DEVICES * METRICS) {
        store.insert(&format!("garden/sensor{i}"), 1);
    }
    assert_eq!(store.len(), 10_000);
    let count = |filter: &str| {
        let mut n = 0usize;
        store.for_each_match(filter, |m| n += usize::from(*m));
        n
    };
    let mut g = c.benchmark_group("retained_10k");
    for (name, filter, want) in [
        ("house_all_9600", "house/#", 9_600),
        ("one_room_240", "house/room7/#", 240),
        ("plus_metric_40", "house/+/dev3/metric0", 40),
        ("exact_1", "house/room7/dev3/metric0", 1),
    ] {
        assert_eq!(count(filter), want, "{filter}");
        g.bench_function(name, |b| b.iter(|| count(black_box(filter))));
    }
    g.finish();
}

/// The node design question, 8 lookups per iteration: a `Vec` sorted by level
/// and bisected, a `HashMap`, and the tree itself (whose nodes bisect stored
/// level hashes), matching `n/{level}` under one node of `n` children.
fn bench_child_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("child_lookup");
    for n in [4usize, 16, 64, 1024, 10_000] {
        let names: Vec<String> = (0..n).map(|i| format!("dev{i}")).collect();
        let mut sorted: Vec<(Box<str>, u32)> = names
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str().into(), i as u32))
            .collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let map: HashMap<Box<str>, u32> = sorted.iter().cloned().collect();
        let probes: Vec<&str> = (0..8).map(|k| names[(k * 7919) % n].as_str()).collect();
        g.bench_with_input(BenchmarkId::new("sorted_vec", n), &probes, |b, probes| {
            b.iter(|| {
                probes
                    .iter()
                    .filter_map(|p| sorted.binary_search_by(|(s, _)| (**s).cmp(*p)).ok())
                    .count()
            })
        });
        g.bench_with_input(BenchmarkId::new("hash_map", n), &probes, |b, probes| {
            b.iter(|| probes.iter().filter_map(|p| map.get(*p)).count())
        });
        // midge's node (hash-ordered vector), through a whole two-level match.
        let mut tree = TopicTree::new();
        for (i, name) in names.iter().enumerate() {
            tree.subscribe(&format!("n/{name}"), i as u32, 1u8);
        }
        let topics: Vec<String> = probes.iter().map(|p| format!("n/{p}")).collect();
        g.bench_with_input(BenchmarkId::new("tree_match", n), &topics, |b, topics| {
            b.iter(|| topics.iter().map(|t| count_tree(&tree, t)).sum::<usize>())
        });
    }
    g.finish();
}

criterion_group!(benches, bench_tree, bench_retained, bench_child_lookup);
criterion_main!(benches);
