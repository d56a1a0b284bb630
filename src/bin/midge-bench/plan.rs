//! The shape of a message scenario as data: which publisher publishes on
//! which topic, and which subscriber, on which filter, receives which
//! publishers. Pure; the flow engine runs any plan.

use crate::opts::{Opts, Scenario};

/// Who publishes where and who receives whom.
pub struct Plan {
    /// Topic of each publisher.
    pub topics: Vec<String>,
    /// Filter of each subscriber and the range of publishers it receives.
    pub subscribers: Vec<(String, std::ops::Range<usize>)>,
}

/// Builds the plan of a scenario. Topics carry the process id so that two
/// runs against one broker never see each other's messages.
pub fn plan(o: &Opts, tag: u32) -> Plan {
    let pfx = format!("bench/{tag}");
    match o.scenario {
        Scenario::FanIn => Plan {
            topics: (0..o.publishers)
                .map(|i| format!("{pfx}/{i}/data"))
                .collect(),
            subscribers: vec![(format!("{pfx}/+/data"), 0..o.publishers)],
        },
        Scenario::FanOut => Plan {
            topics: vec![format!("{pfx}/fan")],
            subscribers: (0..o.subscribers)
                .map(|_| (format!("{pfx}/fan"), 0..1))
                .collect(),
        },
        Scenario::Pairs
        | Scenario::Latency
        | Scenario::Qos
        | Scenario::Connections
        | Scenario::Handshakes => {
            let n = match o.scenario {
                Scenario::Pairs => o.pairs,
                Scenario::Qos => o.publishers,
                _ => 1,
            };
            Plan {
                topics: (0..n).map(|i| format!("{pfx}/pair/{i}")).collect(),
                subscribers: (0..n)
                    .map(|i| (format!("{pfx}/pair/{i}"), i..i + 1))
                    .collect(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opts::parse;

    fn opts(s: &str) -> Opts {
        let args: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&args).unwrap().unwrap()
    }

    #[test]
    fn fanin_plan_is_one_wildcard_subscriber() {
        let p = plan(&opts("fanin --publishers 3"), 7);
        assert_eq!(
            p.topics,
            ["bench/7/0/data", "bench/7/1/data", "bench/7/2/data"]
        );
        assert_eq!(p.subscribers, [("bench/7/+/data".to_string(), 0..3)]);
    }

    #[test]
    fn fanout_and_pairs_plans() {
        let p = plan(&opts("fanout --subscribers 2"), 1);
        assert_eq!(p.topics.len(), 1);
        assert_eq!(p.subscribers.len(), 2);
        assert!(p
            .subscribers
            .iter()
            .all(|(f, r)| f == "bench/1/fan" && *r == (0..1)));
        let p = plan(&opts("pairs --pairs 2"), 1);
        assert_eq!(p.subscribers[1], ("bench/1/pair/1".to_string(), 1..2));
        assert_eq!(plan(&opts("qos --publishers 3"), 1).topics.len(), 3);
        assert_eq!(plan(&opts("latency"), 1).topics.len(), 1);
    }
}
