//! gregor-testkit (work in progress).
