//! gregor-consumer (work in progress).
