//! gregor-consumer (work in progress).

pub mod placement;
pub mod store;
