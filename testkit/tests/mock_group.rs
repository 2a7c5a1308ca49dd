//! The mock cluster's classic group coordinator, driven directly as a state machine with fake
//! times: no sockets, no clocks. Every response is also checked to encode in its version.

#[path = "mock_group/admin.rs"]
mod admin;
#[path = "mock_group/harness.rs"]
mod harness;
#[path = "mock_group/membership.rs"]
mod membership;
#[path = "mock_group/offsets.rs"]
mod offsets;
#[path = "mock_group/static_members.rs"]
mod static_members;
