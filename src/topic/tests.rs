//! Property tests: the arena trees against the reference matcher
//! [`filter_matches`] over random filters and topics from a fixed-seed
//! generator, through random subscribes, unsubscribes, inserts and removes.

use std::collections::BTreeMap;

use super::*;

use crate::testutil::Rng as XorShift;

/// Levels include the empty level and "$SYS", which wildcards at the first
/// level must skip [MQTT-4.7.2-1].
const LEVELS: [&str; 5] = ["", "a", "b", "$SYS", "c"];

fn random_topic(rng: &mut XorShift) -> String {
    let n = 1 + rng.below(4);
    let levels: Vec<&str> = (0..n).map(|_| LEVELS[rng.below(LEVELS.len())]).collect();
    let topic = levels.join("/");
    if topic.is_empty() {
        // A single empty level is not a topic name [MQTT-4.7.3-1].
        return "a".into();
    }
    assert!(valid_topic_name(&topic), "{topic:?}");
    topic
}

fn random_filter(rng: &mut XorShift) -> String {
    let n = 1 + rng.below(4);
    let mut levels: Vec<&str> = (0..n)
        .map(|_| {
            if rng.percent(20) {
                "+"
            } else {
                LEVELS[rng.below(LEVELS.len())]
            }
        })
        .collect();
    if rng.percent(20) {
        if let Some(last) = levels.last_mut() {
            *last = "#";
        }
    }
    let filter = levels.join("/");
    if filter.is_empty() {
        return "+".into();
    }
    assert!(valid_topic_filter(&filter), "{filter:?}");
    filter
}

fn tree_matches(tree: &TopicTree<u32>, topic: &str) -> Vec<(u32, u32)> {
    let mut got = Vec::new();
    tree.for_each_match(topic, |s, v| got.push((s, *v)));
    got.sort_unstable();
    got
}

fn model_matches(model: &BTreeMap<(String, u32), u32>, topic: &str) -> Vec<(u32, u32)> {
    let mut want: Vec<(u32, u32)> = model
        .iter()
        .filter(|((f, _), _)| filter_matches(f, topic))
        .map(|((_, s), v)| (*s, *v))
        .collect();
    want.sort_unstable();
    want
}

#[test]
fn topic_tree_agrees_with_reference_matcher() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut tree = TopicTree::new();
    let mut model: BTreeMap<(String, u32), u32> = BTreeMap::new();
    let mut checks = 0;
    let mut nonempty = 0;
    for step in 0..4_000u32 {
        let filter = random_filter(&mut rng);
        let subscriber = rng.below(6) as u32;
        if rng.percent(65) {
            let new = model.insert((filter.clone(), subscriber), step).is_none();
            assert_eq!(tree.subscribe(&filter, subscriber, step), new, "{filter:?}");
        } else {
            let want = model.remove(&(filter.clone(), subscriber));
            assert_eq!(tree.unsubscribe(&filter, subscriber), want, "{filter:?}");
        }
        assert_eq!(tree.len(), model.len());
        for _ in 0..3 {
            let topic = random_topic(&mut rng);
            let want = model_matches(&model, &topic);
            nonempty += usize::from(!want.is_empty());
            assert_eq!(tree_matches(&tree, &topic), want, "topic {topic:?}");
            checks += 1;
        }
    }
    assert!(
        checks >= 10_000 && nonempty > checks / 2,
        "{nonempty}/{checks}"
    );
    // Unsubscribe everything in a random order: every node is freed.
    let mut rest: Vec<(String, u32)> = model.keys().cloned().collect();
    while !rest.is_empty() {
        let (filter, subscriber) = rest.swap_remove(rng.below(rest.len()));
        assert!(tree.unsubscribe(&filter, subscriber).is_some());
    }
    assert!(tree.is_empty());
    assert_eq!(tree.node_count(), 0);
}

#[test]
fn retained_store_agrees_with_brute_force_scan() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut store = RetainedStore::new();
    let mut model: BTreeMap<String, u32> = BTreeMap::new();
    let mut checks = 0;
    let mut nonempty = 0;
    for step in 0..4_000u32 {
        let topic = random_topic(&mut rng);
        if rng.percent(60) {
            assert_eq!(
                store.insert(&topic, step),
                model.insert(topic.clone(), step)
            );
        } else {
            assert_eq!(store.remove(&topic), model.remove(&topic));
        }
        assert_eq!(store.len(), model.len());
        assert_eq!(store.get(&topic), model.get(&topic));
        for _ in 0..3 {
            let filter = random_filter(&mut rng);
            let mut got = Vec::new();
            store.for_each_match(&filter, |m| got.push(*m));
            got.sort_unstable();
            let mut want: Vec<u32> = model
                .iter()
                .filter(|(t, _)| filter_matches(&filter, t))
                .map(|(_, m)| *m)
                .collect();
            want.sort_unstable();
            nonempty += usize::from(!want.is_empty());
            assert_eq!(got, want, "filter {filter:?}");
            checks += 1;
        }
    }
    assert!(
        checks >= 10_000 && nonempty > checks / 2,
        "{nonempty}/{checks}"
    );
    let mut rest: Vec<String> = model.keys().cloned().collect();
    while !rest.is_empty() {
        let topic = rest.swap_remove(rng.below(rest.len()));
        assert!(store.remove(&topic).is_some());
    }
    assert!(store.is_empty());
    assert_eq!(store.node_count(), 0);
}
