//! The rebalancing group consumer (classic protocol): membership, assignors, offsets.
//!
//! # Layout
//! - [`assignor`]: who gets which partition. The [`Assignor`](assignor::Assignor) trait, the
//!   input the group leader sees ([`AssignmentInput`](assignor::AssignmentInput)) and the
//!   built-in assignors (range, roundrobin, sticky, cooperative-sticky). Pure functions.
pub mod assignor;
pub mod config;
pub mod consumer;
pub mod errors;
pub mod membership;
pub mod task;
