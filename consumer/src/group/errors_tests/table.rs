//! What the transcription is made of: the contexts a row covers ([`When`]) and the rows
//! ([`Row`]), one per case a Java handler tells apart.

use super::{ErrorCode, GroupApi, Reaction, ReactionContext};

/// Which contexts a row covers: `None` in a dimension means both values. Every row covers
/// static and dynamic members alike (no Java handler tells them apart).
#[derive(Debug, Clone, Copy)]
pub(super) struct When {
    rebalancing: Option<bool>,
    generation_changed: Option<bool>,
}

/// Every context.
pub(super) const ANY: When = When {
    rebalancing: None,
    generation_changed: None,
};
/// Answered for the member's current generation (Java: `generationUnchanged()`).
pub(super) const CURRENT: When = When {
    rebalancing: None,
    generation_changed: Some(false),
};
/// Answered for a generation the member has left.
pub(super) const STALE: When = When {
    rebalancing: None,
    generation_changed: Some(true),
};
/// Not rebalancing (Java: `state == STABLE`), any generation.
pub(super) const IDLE: When = When {
    rebalancing: Some(false),
    generation_changed: None,
};
/// Rebalancing (Java: `state != STABLE`), any generation.
pub(super) const REBALANCING: When = When {
    rebalancing: Some(true),
    generation_changed: None,
};
/// Current generation, not rebalancing.
pub(super) const CURRENT_IDLE: When = When {
    rebalancing: Some(false),
    generation_changed: Some(false),
};
/// Current generation, rebalancing.
pub(super) const CURRENT_REBALANCING: When = When {
    rebalancing: Some(true),
    generation_changed: Some(false),
};
/// A left generation, not rebalancing.
pub(super) const STALE_IDLE: When = When {
    rebalancing: Some(false),
    generation_changed: Some(true),
};
/// A left generation, rebalancing (Java: `PREPARING_REBALANCE`).
pub(super) const STALE_REBALANCING: When = When {
    rebalancing: Some(true),
    generation_changed: Some(true),
};

impl When {
    pub(super) fn contexts(self) -> Vec<ReactionContext> {
        let values = |d: Option<bool>| d.map_or(vec![false, true], |v| vec![v]);
        let mut out = Vec::new();
        for rebalancing in values(self.rebalancing) {
            for generation_changed in values(self.generation_changed) {
                for static_member in [false, true] {
                    out.push(ReactionContext {
                        rebalancing,
                        static_member,
                        generation_changed,
                    });
                }
            }
        }
        out
    }
}

/// Every context there is.
pub(super) fn all_contexts() -> Vec<ReactionContext> {
    ANY.contexts()
}

/// One case Java's handler distinguishes, and what gregor does about it.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub(super) api: GroupApi,
    pub(super) code: ErrorCode,
    pub(super) when: When,
    /// gregor's reaction.
    pub(super) expect: Reaction,
    /// What Java does, and where.
    pub(super) java: &'static str,
    /// Why gregor's reaction differs from Java's, if it does.
    pub(super) differs: Option<&'static str>,
}

pub(super) fn row(
    api: GroupApi,
    code: ErrorCode,
    when: When,
    expect: Reaction,
    java: &'static str,
) -> Row {
    Row {
        api,
        code,
        when,
        expect,
        java,
        differs: None,
    }
}

impl Row {
    pub(super) fn differs(mut self, why: &'static str) -> Row {
        self.differs = Some(why);
        self
    }
}

/// The rediscovery difference, shared by several rows.
pub(super) const LOOKUP_AT_ONCE: &str = "gregor looks the coordinator up at once instead of first \
     sleeping retry.backoff.ms; the lookup itself backs off when it fails";
