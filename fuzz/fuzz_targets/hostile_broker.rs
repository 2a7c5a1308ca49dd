//! gregor's client against a hostile broker whose response bodies are the fuzz input.
//!
//! The broker (shared/hostile.rs) frames every answer correctly: size prefix, the request's
//! correlation id, the response header version of its API and version. Inside, the bodies are
//! arbitrary: first the ApiVersions answer (a valid response listing version ranges the input
//! picks, or raw bytes), then one body per following request (Metadata, ListOffsets, Fetch,
//! OffsetFetch, FindCoordinator, in the order the input's flows pick), each with an action
//! (answer, write slowly, answer out of order, never answer, close the connection, lie about
//! the frame size). Input layout: shared/hostile_input.rs.
//!
//! Checks: no panic, every call ends within the request timeout (virtual time), an answered
//! request never times out, gregor's requests decode, the consumer's record planning keeps
//! its invariants; memory stays bounded (CI runs with `-malloc_limit_mb=64`).
#![no_main]

#[path = "shared/hostile.rs"]
mod hostile;
#[path = "shared/hostile_input.rs"]
mod hostile_input;

use std::collections::VecDeque;

use gregor_protocol::ApiKey;
use hostile::{Action, Incoming, Script};
use hostile_input::Input;
use libfuzzer_sys::fuzz_target;

/// Answers from the input.
struct RawScript {
    input: Input,
    answers: VecDeque<(Action, Vec<u8>)>,
}

impl Script for RawScript {
    fn answer(&mut self, req: &Incoming) -> (Action, Vec<u8>) {
        if req.api_key == ApiKey::ApiVersions.code() {
            let body = self.input.api_versions_body(req.version);
            return (self.input.api_versions_action(), body);
        }
        self.answers
            .pop_front()
            .unwrap_or((Action::Close, Vec::new()))
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let answers = input
        .answers
        .iter()
        .map(|&((kind, arg), ref body)| {
            (Action::from_bytes(kind, arg), input.padded(kind, arg, body))
        })
        .collect();
    let flows = input.flows();
    let params = input.params();
    hostile::run(RawScript { input, answers }, &flows, params);
});
