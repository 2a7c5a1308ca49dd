//! The input format of the `hostile_broker` target, read with `arbitrary::Unstructured` and
//! written by [`Writer`] (the seed generator, examples/hostile_broker_seeds.rs). Every byte
//! string is an input: missing bytes read as zeros, and zeros everywhere mean "answer
//! normally" (a valid ApiVersions response listing our own version ranges, the default flows).
//!
//! ```text
//! input       := config api_versions flows answer*
//! config      := flags:u8 position:u16 until:u16 timestamp:u16 key_type:u8
//!                  (see hostile::Params::from_parts; u16s little-endian)
//! api_versions:= mode:u8 (
//!                  mode < 200:  error:u8 encode_as:u8 range{6} extra_count:u8 extra{extra_count % 8}
//!                               (error: < 200 none, < 230 UNSUPPORTED_VERSION for versions
//!                               above the listed ApiVersions range, else error - 231)
//!                | mode >= 200: len:u16 body[len] )   (raw bytes as the body)
//!                action
//! range       := sel:u8 a:u8 b:u8   one per API of hostile::APIS (sel % 5: ours, absent,
//!                                   one version, ours.min up to one, raw (a, b) as i8s)
//! extra       := key:u8 min:u8 max:u8   (more entries, as i8s: unknown keys, duplicates)
//! flows       := count:u8 flow:u8{count % 13}   (count 0: hostile::Flow::DEFAULT)
//! answer      := action len:u16 body[len]   (the next non-ApiVersions request's body; a
//!                                           short last one takes what is left; with an
//!                                           action kind of 160..=179, followed by zeros:
//!                                           see Input::padded)
//! action      := kind:u8 arg:u16            (hostile::Action::from_bytes)
//! ```
//!
//! ApiVersions requests (the handshake, its retry, each reconnection) all get the same answer;
//! the other requests take the answers in turn, and the broker closes the connection when
//! they run out.
#![allow(dead_code)]

use arbitrary::Unstructured;
use gregor_protocol::ApiKey;

use super::hostile::{APIS, Action, Flow, MAX_FLOWS, Params, api_versions_body};

/// The code ApiVersions uses to refuse a version.
const UNSUPPORTED_VERSION: i16 = 35;

/// How the broker answers ApiVersions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiVersionsAnswer {
    /// A valid response listing these version ranges.
    Valid {
        error: u8,
        encode_as: u8,
        ranges: [(u8, u8, u8); 6],
        extra: Vec<(u8, u8, u8)>,
    },
    /// These bytes as the body.
    Raw(Vec<u8>),
}

/// One parsed input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub config: [u8; 8],
    pub api_versions: ApiVersionsAnswer,
    pub api_versions_action: (u8, u16),
    pub flows: Vec<u8>,
    pub answers: Vec<((u8, u16), Vec<u8>)>,
}

fn u8_(u: &mut Unstructured<'_>) -> u8 {
    u.arbitrary().unwrap_or(0)
}

fn u16_(u: &mut Unstructured<'_>) -> u16 {
    u.arbitrary().unwrap_or(0)
}

fn bytes(u: &mut Unstructured<'_>, len: usize) -> Vec<u8> {
    let len = len.min(u.len());
    u.bytes(len).unwrap_or_default().to_vec()
}

fn action(u: &mut Unstructured<'_>) -> (u8, u16) {
    (u8_(u), u16_(u))
}

impl Input {
    pub fn parse(data: &[u8]) -> Input {
        let mut u = Unstructured::new(data);
        let mut config = [0u8; 8];
        for b in &mut config {
            *b = u8_(&mut u);
        }
        let mode = u8_(&mut u);
        let api_versions = if mode < 200 {
            let error = u8_(&mut u);
            let encode_as = u8_(&mut u);
            let mut ranges = [(0, 0, 0); 6];
            for r in &mut ranges {
                *r = (u8_(&mut u), u8_(&mut u), u8_(&mut u));
            }
            let extra_count = u8_(&mut u) % 8;
            let extra = (0..extra_count)
                .map(|_| (u8_(&mut u), u8_(&mut u), u8_(&mut u)))
                .collect();
            ApiVersionsAnswer::Valid {
                error,
                encode_as,
                ranges,
                extra,
            }
        } else {
            let len = usize::from(u16_(&mut u));
            ApiVersionsAnswer::Raw(bytes(&mut u, len))
        };
        let api_versions_action = action(&mut u);
        let count = usize::from(u8_(&mut u)) % (MAX_FLOWS + 1);
        let flows = (0..count).map(|_| u8_(&mut u)).collect();
        let mut answers = Vec::new();
        while !u.is_empty() {
            let act = action(&mut u);
            let len = usize::from(u16_(&mut u));
            answers.push((act, bytes(&mut u, len)));
        }
        Input {
            config,
            api_versions,
            api_versions_action,
            flows,
            answers,
        }
    }

    /// An answer's body with its zero padding, so that a length field can be large and still
    /// inside the body. Action kinds 160..=179 pad: `arg` from 0xf000 up adds
    /// `(arg & 0xfff) * 256` zeros (up to 1 MiB), below it `arg & 0x3ff` (large bodies are
    /// slow, so they are rare).
    pub fn padded(&self, kind: u8, arg: u16, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        if (160..=179).contains(&kind) {
            let zeros = if arg >= 0xf000 {
                usize::from(arg & 0xfff) * 256
            } else {
                usize::from(arg & 0x3ff)
            };
            // Zeroed memory from the allocator, copied in bulk (not a loop per byte).
            body.extend_from_slice(&vec![0u8; zeros]);
        }
        body
    }

    pub fn params(&self) -> Params {
        let c = &self.config;
        Params::from_parts(
            c[0],
            u16::from_le_bytes([c[1], c[2]]),
            u16::from_le_bytes([c[3], c[4]]),
            u16::from_le_bytes([c[5], c[6]]),
            c[7],
        )
    }

    pub fn flows(&self) -> Vec<Flow> {
        Flow::list(&self.flows)
    }

    pub fn api_versions_action(&self) -> Action {
        let (kind, arg) = self.api_versions_action;
        Action::from_bytes(kind, arg)
    }

    /// The ApiVersions body for a request in `request_version`.
    pub fn api_versions_body(&self, request_version: i16) -> Vec<u8> {
        match &self.api_versions {
            ApiVersionsAnswer::Raw(body) => body.clone(),
            ApiVersionsAnswer::Valid {
                error,
                encode_as,
                ranges,
                extra,
            } => {
                let error_code = match error {
                    0..=199 => 0,
                    200..=229 => UNSUPPORTED_VERSION,
                    e => i16::from(*e) - 231,
                };
                let mut listed: Vec<(i16, i16, i16)> = Vec::new();
                for (&(api, ours), &(sel, a, b)) in APIS.iter().zip(ranges) {
                    let span = ours.max - ours.min + 1;
                    let one = ours.min + i16::from(a) % span;
                    let range = match sel % 5 {
                        0 => (ours.min, ours.max),
                        1 => continue,
                        2 => (one, one),
                        3 => (ours.min, one),
                        _ => (i16::from(a as i8), i16::from(b as i8)),
                    };
                    listed.push((api.code(), range.0, range.1));
                }
                listed.extend(extra.iter().map(|&(k, min, max)| {
                    (
                        i16::from(k as i8),
                        i16::from(min as i8),
                        i16::from(max as i8),
                    )
                }));
                // As a broker does, refuse only the ApiVersions versions it does not list (all
                // of them if it lists none), so the client's retry at a lower one can pass.
                let api_versions = ApiKey::ApiVersions.code();
                let error_code = match listed.iter().find(|(k, ..)| *k == api_versions) {
                    Some(&(_, _, max))
                        if error_code == UNSUPPORTED_VERSION && request_version <= max =>
                    {
                        0
                    }
                    _ => error_code,
                };
                // A broker refusing the version answers in v0, whatever was asked.
                let version = match encode_as {
                    0..=199 if error_code == UNSUPPORTED_VERSION => 0,
                    0..=199 => request_version,
                    v => i16::from(v % 5),
                };
                api_versions_body(error_code, &listed, version).unwrap_or_default()
            }
        }
    }
}

/// Writes inputs in the format above (for seeds).
#[derive(Debug, Default)]
pub struct Writer {
    pub out: Vec<u8>,
}

impl Writer {
    /// Config: flags, position, until, ListOffsets timestamp, key type.
    pub fn config(&mut self, flags: u8, position: u16, until: u16, timestamp: u16, key_type: u8) {
        self.out.push(flags);
        self.out.extend_from_slice(&position.to_le_bytes());
        self.out.extend_from_slice(&until.to_le_bytes());
        self.out.extend_from_slice(&timestamp.to_le_bytes());
        self.out.push(key_type);
    }

    /// A valid ApiVersions answer listing our ranges (`sel` per API: see the format), answered
    /// at once.
    pub fn api_versions(&mut self, error: u8, ranges: [(u8, u8, u8); 6]) {
        self.out.extend_from_slice(&[0, error, 0]);
        for (sel, a, b) in ranges {
            self.out.extend_from_slice(&[sel, a, b]);
        }
        self.out.push(0); // no extra entries
        self.action(0, 0);
    }

    /// The flows, as bytes (see `Flow::from_byte`).
    pub fn flows(&mut self, flows: &[Flow]) {
        assert!(flows.len() <= MAX_FLOWS);
        self.out.push(flows.len() as u8);
        for flow in flows {
            let index = Flow::ALL.iter().position(|f| f == flow).expect("a flow");
            self.out.push(index as u8);
        }
    }

    pub fn action(&mut self, kind: u8, arg: u16) {
        self.out.push(kind);
        self.out.extend_from_slice(&arg.to_le_bytes());
    }

    /// One answer: `body` (at most 64 KiB) with the given action.
    pub fn answer(&mut self, kind: u8, arg: u16, body: &[u8]) {
        self.action(kind, arg);
        let len = u16::try_from(body.len()).expect("a body under 64 KiB");
        self.out.extend_from_slice(&len.to_le_bytes());
        self.out.extend_from_slice(body);
    }
}
