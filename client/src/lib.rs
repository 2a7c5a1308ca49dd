//! gregor-client (work in progress).
