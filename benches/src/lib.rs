//! gregor-benches (work in progress).
