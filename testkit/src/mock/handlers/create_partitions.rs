//! CreatePartitions (37).
//!
//! A topic named twice → `INVALID_REQUEST`; unknown → `UNKNOWN_TOPIC_OR_PARTITION`; a count not
//! above the current one → `INVALID_PARTITIONS`; assignments that do not cover exactly the new
//! partitions, or name unknown brokers → `INVALID_REPLICA_ASSIGNMENT`. `validate_only` checks
//! without creating. New partitions keep the topic's replication factor.

use std::collections::HashMap;

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::create_partitions::CreatePartitionsTopicResult;
use gregor_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::{Ctx, Handle, Reply};

impl Handle for CreatePartitionsRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<CreatePartitionsResponse> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for t in &self.topics {
            *seen.entry(t.name.as_str()).or_insert(0) += 1;
        }
        let results = self
            .topics
            .iter()
            .map(|t| {
                let outcome = if seen.get(t.name.as_str()).copied().unwrap_or(0) > 1 {
                    Err((ErrorCode::InvalidRequest, "topic named twice".to_owned()))
                } else {
                    let assignments: Vec<Vec<i32>> = t
                        .assignments
                        .iter()
                        .flatten()
                        .map(|a| a.broker_ids.clone())
                        .collect();
                    cx.state
                        .add_partitions(&t.name, t.count, &assignments, self.validate_only)
                };
                let (error_code, error_message) = match outcome {
                    Ok(()) => (0, None),
                    Err((code, message)) => (code.code(), Some(message)),
                };
                CreatePartitionsTopicResult {
                    name: t.name.clone(),
                    error_code,
                    error_message,
                    ..CreatePartitionsTopicResult::default()
                }
            })
            .collect();
        Reply::Respond(CreatePartitionsResponse {
            results,
            ..CreatePartitionsResponse::default()
        })
    }
}
