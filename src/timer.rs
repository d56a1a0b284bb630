//! Timer wheel. (stub)
