//! Topics and filters. (stub: signatures only)

pub fn valid_topic_name(topic: &str) -> bool {
    let _ = topic;
    todo!()
}
pub fn valid_topic_filter(filter: &str) -> bool {
    let _ = filter;
    todo!()
}
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    let _ = (filter, topic);
    todo!()
}
pub struct TopicTree<V> {
    v: Vec<V>,
}
impl<V> TopicTree<V> {
    pub fn new() -> Self {
        todo!()
    }
    pub fn subscribe(&mut self, filter: &str, subscriber: u32, value: V) -> bool {
        let _ = (filter, subscriber, value, &self.v);
        todo!()
    }
    pub fn unsubscribe(&mut self, filter: &str, subscriber: u32) -> Option<V> {
        let _ = (filter, subscriber);
        todo!()
    }
    pub fn for_each_match(&self, topic: &str, f: impl FnMut(u32, &V)) {
        let _ = (topic, f);
        todo!()
    }
    pub fn len(&self) -> usize {
        todo!()
    }
}
pub struct RetainedStore<M> {
    v: Vec<M>,
}
impl<M> RetainedStore<M> {
    pub fn new() -> Self {
        todo!()
    }
    pub fn insert(&mut self, topic: &str, msg: M) -> Option<M> {
        let _ = (topic, msg, &self.v);
        todo!()
    }
    pub fn remove(&mut self, topic: &str) -> Option<M> {
        let _ = topic;
        todo!()
    }
    pub fn for_each_match(&self, filter: &str, f: impl FnMut(&M)) {
        let _ = (filter, f);
        todo!()
    }
    pub fn len(&self) -> usize {
        todo!()
    }
}
