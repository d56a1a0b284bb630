//! Topics and filters. (stub)
