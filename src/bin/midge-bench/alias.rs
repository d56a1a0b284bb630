//! Topic aliases a broker assigns on its way to one subscriber (MQTT 5).
//!
//! The subscriber's CONNECT announced a Topic Alias Maximum; a PUBLISH
//! with an alias and a topic sets that alias, one with an alias and an
//! empty topic uses it. Aliases outside 1..=maximum, an unknown alias and
//! an empty topic without an alias are the broker's protocol errors.

/// The aliases of one connection.
pub struct Aliases {
    max: u16,
    /// Topic of alias `i + 1`; empty while unset (a topic is never empty).
    topics: Vec<Vec<u8>>,
    /// Messages whose topic came from the table.
    used: u64,
}

impl Aliases {
    /// An empty table for a connection that announced `max` (0: none).
    pub fn new(max: u16) -> Self {
        Aliases {
            max,
            topics: Vec::new(),
            used: 0,
        }
    }

    /// Messages that arrived with an alias and an empty topic.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// The topic of a received PUBLISH with `topic` and Topic Alias
    /// `alias`, updating the table. Called for every PUBLISH; allocates
    /// only the first time an alias is set.
    pub fn resolve<'a>(
        &'a mut self,
        alias: Option<u16>,
        topic: &'a [u8],
    ) -> Result<&'a [u8], String> {
        let Some(a) = alias else {
            if topic.is_empty() {
                return Err("PUBLISH with an empty topic and no topic alias".into());
            }
            return Ok(topic);
        };
        if a == 0 || a > self.max {
            return Err(format!(
                "topic alias {a} outside 1..={} (the Topic Alias Maximum sent)",
                self.max
            ));
        }
        let i = usize::from(a - 1);
        if !topic.is_empty() {
            if self.topics.len() <= i {
                self.topics.resize_with(i + 1, Vec::new);
            }
            let slot = &mut self.topics[i];
            slot.clear();
            slot.extend_from_slice(topic);
            return Ok(topic);
        }
        match self.topics.get(i) {
            Some(t) if !t.is_empty() => {
                self.used += 1;
                Ok(t)
            }
            _ => Err(format!("topic alias {a} used before it was set")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_then_use_then_reassign() {
        let mut a = Aliases::new(10);
        assert_eq!(a.resolve(None, b"x/y").unwrap(), b"x/y");
        assert_eq!(a.resolve(Some(3), b"a/b").unwrap(), b"a/b");
        assert_eq!(a.resolve(Some(3), b"").unwrap(), b"a/b");
        assert_eq!(a.resolve(Some(3), b"c").unwrap(), b"c");
        assert_eq!(a.resolve(Some(3), b"").unwrap(), b"c");
        assert_eq!(a.used(), 2);
    }

    #[test]
    fn protocol_errors() {
        let mut a = Aliases::new(2);
        assert!(a.resolve(Some(1), b"").is_err(), "unknown alias");
        assert!(a.resolve(Some(0), b"t").is_err(), "alias 0");
        assert!(a.resolve(Some(3), b"t").is_err(), "above the maximum");
        assert!(a.resolve(None, b"").is_err(), "no topic at all");
        let mut none = Aliases::new(0);
        assert!(none.resolve(Some(1), b"t").is_err(), "aliases not allowed");
    }
}
