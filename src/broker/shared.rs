//! Shared subscriptions, `$share/{group}/{filter}` (MQTT 5 section 4.8.2,
//! offered to 3.1.1 clients too): each group is one subscriber of its
//! filter in a topic tree of its own, and a message that matches the filter
//! goes to one member of the group.

use std::collections::HashMap;

use slab::Slab;

use super::Subscription;
use crate::topic::TopicTree;

/// Every shared subscription group.
#[derive(Default)]
pub(super) struct SharedGroups {
    /// The groups' filters; the subscriber id is the group's slot.
    tree: TopicTree<()>,
    groups: Slab<Group>,
    /// Group slot by the whole `$share/{group}/{filter}` string.
    by_name: HashMap<Box<str>, u32>,
}

struct Group {
    filter: Box<str>,
    /// `(session, subscription)` in joining order.
    members: Vec<(u32, Subscription)>,
    /// Where the next round-robin pick starts.
    next: usize,
}

impl SharedGroups {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Called for a SUBSCRIBE to `name` (`$share/{group}/{filter}`):
    /// session `sid` joins the group, or updates its options when it was
    /// a member. Returns true when the membership is new.
    pub fn join(&mut self, name: &str, filter: &str, sid: u32, sub: Subscription) -> bool {
        let g = match self.by_name.get(name) {
            Some(&g) => g,
            None => {
                let g = self.groups.insert(Group {
                    filter: filter.into(),
                    members: Vec::new(),
                    next: 0,
                }) as u32;
                self.tree.subscribe(filter, g, ());
                self.by_name.insert(name.into(), g);
                g
            }
        };
        let members = &mut self.groups[g as usize].members;
        match members.iter_mut().find(|(s, _)| *s == sid) {
            Some(member) => {
                member.1 = sub;
                false
            }
            None => {
                members.push((sid, sub));
                true
            }
        }
    }

    /// Called for an UNSUBSCRIBE of `name` and when a session ends: `sid`
    /// leaves the group, and a group left empty is removed. Returns true
    /// when `sid` was a member.
    pub fn leave(&mut self, name: &str, sid: u32) -> bool {
        let Some(&g) = self.by_name.get(name) else {
            return false;
        };
        let group = &mut self.groups[g as usize];
        let Some(i) = group.members.iter().position(|(s, _)| *s == sid) else {
            return false;
        };
        group.members.remove(i);
        if group.next > i {
            group.next -= 1;
        }
        if group.members.is_empty() {
            let group = self.groups.remove(g as usize);
            self.tree.unsubscribe(&group.filter, g);
            self.by_name.remove(name);
        }
        true
    }

    /// Session `sid`'s subscription to group `name`, if a member.
    pub fn get(&self, name: &str, sid: u32) -> Option<Subscription> {
        let g = *self.by_name.get(name)?;
        let members = &self.groups[g as usize].members;
        members.iter().find(|(s, _)| *s == sid).map(|(_, sub)| *sub)
    }

    /// Calls `f(group)` for each group whose filter matches `topic`.
    pub fn for_each_match(&self, topic: &str, mut f: impl FnMut(u32)) {
        self.tree.for_each_match(topic, |g, _| f(g));
    }

    /// The member of group `g` that gets the next message: the next one
    /// in turn whose session is `online`, or, when none is, the next one in
    /// turn (a persistent session that queues it). A member whose
    /// subscription is not `allowed` this message (its ACL) is passed over
    /// either way; `None` when no member may have it.
    pub fn pick(
        &mut self,
        g: u32,
        online: impl Fn(u32) -> bool,
        allowed: impl Fn(u32, &Subscription) -> bool,
    ) -> Option<(u32, Subscription)> {
        let group = self.groups.get_mut(g as usize)?;
        let n = group.members.len();
        if n == 0 {
            return None;
        }
        let start = group.next % n;
        let members = &group.members;
        let ok = |i: usize| allowed(members[i].0, &members[i].1);
        let order = || (0..n).map(|k| (start + k) % n);
        let chosen = order()
            .find(|&i| online(members[i].0) && ok(i))
            .or_else(|| order().find(|&i| ok(i)))?;
        group.next = (chosen + 1) % n;
        Some(group.members[chosen])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::SubOptions;

    fn sub() -> Subscription {
        Subscription::new(SubOptions::default(), 0)
    }

    #[test]
    fn members_take_turns_and_offline_ones_are_passed_over() {
        let mut g = SharedGroups::default();
        assert!(g.join("$share/g/a/+", "a/+", 1, sub()));
        assert!(g.join("$share/g/a/+", "a/+", 2, sub()));
        assert!(g.join("$share/g/a/+", "a/+", 3, sub()));
        assert!(!g.join("$share/g/a/+", "a/+", 3, sub()), "already a member");
        let mut groups = Vec::new();
        g.for_each_match("a/b", |x| groups.push(x));
        assert_eq!(groups.len(), 1);
        let picks: Vec<u32> = (0..6)
            .map(|_| g.pick(groups[0], |_| true, |_, _| true).unwrap().0)
            .collect();
        assert_eq!(picks, [1, 2, 3, 1, 2, 3]);
        let picks: Vec<u32> = (0..4)
            .map(|_| g.pick(groups[0], |s| s != 2, |_, _| true).unwrap().0)
            .collect();
        assert_eq!(picks, [1, 3, 1, 3], "offline member 2 is passed over");
        assert_eq!(
            g.pick(groups[0], |_| false, |_, _| true).map(|m| m.0),
            Some(1)
        );
        let picks: Vec<u32> = (0..4)
            .map(|_| g.pick(groups[0], |_| true, |s, _| s != 1).unwrap().0)
            .collect();
        assert_eq!(picks, [2, 3, 2, 3], "member 1 may not read: never picked");
        let picks: Vec<u32> = (0..2)
            .map(|_| g.pick(groups[0], |s| s == 1, |s, _| s != 1).unwrap().0)
            .collect();
        assert_eq!(picks, [2, 3], "not even when it is the only one online");
        assert_eq!(g.pick(groups[0], |_| true, |_, _| false), None);
    }

    #[test]
    fn an_empty_group_is_removed() {
        let mut g = SharedGroups::default();
        g.join("$share/g/t", "t", 1, sub());
        g.join("$share/h/t", "t", 1, sub());
        assert!(g.leave("$share/g/t", 1));
        assert!(!g.leave("$share/g/t", 1));
        let mut n = 0;
        g.for_each_match("t", |_| n += 1);
        assert_eq!(n, 1, "only group h is left");
        g.leave("$share/h/t", 1);
        assert!(g.is_empty());
    }
}
