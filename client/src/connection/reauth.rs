//! SASL re-authentication (KIP-368), sans-io.
//!
//! A broker with `connections.max.reauth.ms` set answers SaslAuthenticate (v1+) with the
//! session's lifetime, and closes a connection whose session has expired when a request other
//! than a re-authentication arrives on it. So the connection authenticates again, on the same
//! socket, before then: SaslHandshake, then the mechanism's SaslAuthenticate rounds (a
//! [`SaslExchange`] with a fresh session, so OAUTHBEARER sends the token its provider gives
//! now), after which the broker states the new session's lifetime.
//!
//! [`Reauthenticator`] decides when, and runs the exchange; the connection task only carries
//! its requests and holds everyone else's:
//!
//! 1. *Scheduled*: the re-authentication is due at a random point between 85 % and 95 % of the
//!    session lifetime ([`reauth_due`]), counted from when the last SaslAuthenticate request
//!    was sent (the broker's clock cannot have started earlier). The jitter spreads the
//!    connections of a client that authenticated together.
//! 2. *Draining*: once due, new requests are held (taken, with their deadlines running, but not
//!    written), and the requests already written are answered first. The broker serves one
//!    connection's requests in order, and a SaslHandshake on an authenticated connection starts
//!    a re-authentication even after the session expired; so nothing in flight is lost, and
//!    nothing is interleaved with the exchange.
//! 3. *Exchanging*: SaslHandshake and SaslAuthenticate go out ahead of the held requests. When
//!    the broker accepts, the new lifetime schedules the next round (none if the broker now
//!    sets no limit) and the held requests are released in the order they came. A refusal, an
//!    undecodable answer or a failing mechanism is an error (the same [`ClientError`] variants
//!    as a first authentication): the connection task ends the connection with it, failing the
//!    held requests, and the pool connects anew.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::debug;

use super::handshake::{HandshakeRequest, out_of_order};
use super::sasl_exchange::{SaslExchange, SaslExchangeStep, SaslVersions};
use crate::error::ClientError;
use crate::sasl::SaslConfig;

/// The share of the session lifetime after which re-authentication starts, at the earliest.
pub const REAUTH_AT: f64 = 0.85;
/// The random share added to [`REAUTH_AT`] (so re-authentication starts between 85 % and 95 %
/// of the lifetime).
pub const REAUTH_JITTER: f64 = 0.10;

/// When to re-authenticate a session of `lifetime` whose last SaslAuthenticate request was
/// sent at `authenticated_at`: after `REAUTH_AT + REAUTH_JITTER × jitter` of the lifetime, with
/// `jitter` in `[0, 1]` (a value outside is clamped, a NaN is taken as 0.5). `None` when that
/// is past what the clock can represent (in effect, never).
pub fn reauth_due(authenticated_at: Instant, lifetime: Duration, jitter: f64) -> Option<Instant> {
    let jitter = if jitter.is_nan() {
        0.5
    } else {
        jitter.clamp(0.0, 1.0)
    };
    let share = REAUTH_AT + REAUTH_JITTER * jitter;
    authenticated_at.checked_add(lifetime.mul_f64(share))
}

#[derive(Debug)]
enum Phase {
    /// No limit on the session: nothing to do.
    Off,
    /// Waiting until `due`.
    Scheduled { due: Instant },
    /// Due: requests are held until the ones written before are answered.
    Draining,
    /// The exchange runs; `last_sent` is when its latest request was sent.
    Exchanging {
        exchange: SaslExchange,
        last_sent: Instant,
    },
}

/// What the connection does after a re-authentication answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReauthStep {
    /// Send this request ahead of the held ones; its answer goes to
    /// [`Reauthenticator::on_response`].
    Send(HandshakeRequest),
    /// The broker accepted the new authentication: release the held requests.
    Reauthenticated {
        /// The new session's lifetime (`None`: the broker no longer sets one).
        session_lifetime: Option<Duration>,
    },
}

/// The re-authentication schedule and exchange of one connection. Takes the time and a jitter
/// value from its caller; does no I/O.
#[derive(Debug)]
pub struct Reauthenticator {
    config: SaslConfig,
    versions: SaslVersions,
    phase: Phase,
    completed: u64,
}

impl Reauthenticator {
    /// A re-authenticator for a connection that authenticated with `config`, speaking
    /// `versions`. Nothing is scheduled until [`schedule`](Self::schedule).
    pub fn new(config: SaslConfig, versions: SaslVersions) -> Reauthenticator {
        Reauthenticator {
            config,
            versions,
            phase: Phase::Off,
            completed: 0,
        }
    }

    /// Schedules the next re-authentication of a session of `lifetime` (none for `None`)
    /// whose last SaslAuthenticate request was sent at `authenticated_at`; see
    /// [`reauth_due`].
    pub fn schedule(&mut self, lifetime: Option<Duration>, authenticated_at: Instant, jitter: f64) {
        self.phase = match lifetime.and_then(|l| reauth_due(authenticated_at, l, jitter)) {
            Some(due) => Phase::Scheduled { due },
            None => Phase::Off,
        };
    }

    /// When the next re-authentication is due, while one is scheduled and not yet started.
    pub fn due(&self) -> Option<Instant> {
        match self.phase {
            Phase::Scheduled { due } => Some(due),
            _ => None,
        }
    }

    /// Whether requests must be held: a re-authentication is due or running.
    pub fn holds_requests(&self) -> bool {
        matches!(self.phase, Phase::Draining | Phase::Exchanging { .. })
    }

    /// Whether the exchange is running (its answers are awaited).
    pub fn is_exchanging(&self) -> bool {
        matches!(self.phase, Phase::Exchanging { .. })
    }

    /// How many re-authentications completed.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// Moves on with the time: at `now`, with `written_in_flight` requests written before the
    /// hold still unanswered. Once due, starts holding ([`holds_requests`](Self::holds_requests));
    /// once those are answered, returns the exchange's first request (SaslHandshake), to send
    /// ahead of the held ones at `now`.
    pub fn poll(
        &mut self,
        now: Instant,
        written_in_flight: usize,
    ) -> Result<Option<HandshakeRequest>, ClientError> {
        if let Phase::Scheduled { due } = self.phase {
            if now < due {
                return Ok(None);
            }
            debug!(
                written_in_flight,
                "re-authentication due; holding new requests"
            );
            self.phase = Phase::Draining;
        }
        if !matches!(self.phase, Phase::Draining) || written_in_flight > 0 {
            return Ok(None);
        }
        let mut exchange = SaslExchange::new(&self.config, self.versions);
        let request = exchange.start()?;
        debug!(mechanism = %exchange.mechanism(), "re-authenticating");
        self.phase = Phase::Exchanging {
            exchange,
            last_sent: now,
        };
        Ok(Some(request))
    }

    /// Takes the body of the answer to the exchange's last request, received at `now` (when
    /// a next request would be sent). On success, schedules the next round with `jitter`.
    pub fn on_response(
        &mut self,
        body: Bytes,
        now: Instant,
        jitter: f64,
    ) -> Result<ReauthStep, ClientError> {
        let Phase::Exchanging {
            exchange,
            last_sent,
        } = &mut self.phase
        else {
            return Err(out_of_order(
                "re-authentication answer outside the exchange",
            ));
        };
        match exchange.on_response(body)? {
            SaslExchangeStep::Send(request) => {
                *last_sent = now;
                Ok(ReauthStep::Send(request))
            }
            SaslExchangeStep::Authenticated { session_lifetime } => {
                let authenticated_at = *last_sent;
                self.completed += 1;
                self.schedule(session_lifetime, authenticated_at, jitter);
                debug!(
                    ?session_lifetime,
                    completed = self.completed,
                    "re-authenticated"
                );
                Ok(ReauthStep::Reauthenticated { session_lifetime })
            }
        }
    }
}

#[cfg(test)]
#[path = "reauth_tests.rs"]
mod tests;
