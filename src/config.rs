//! Configuration. (stub)
