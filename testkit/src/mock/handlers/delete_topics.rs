//! DeleteTopics (20).
//!
//! By name (v1-5, and v6 when the name is set) or by id (v6): an unknown name is
//! `UNKNOWN_TOPIC_OR_PARTITION`, an unknown id `UNKNOWN_TOPIC_ID`. Deletion is immediate; fetches
//! and fetch sessions that still name the topic get the unknown-topic errors from then on.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::delete_topics::DeletableTopicResult;
use gregor_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use gregor_protocol::primitives::Uuid;

use super::{Ctx, Handle, Reply};

fn delete(cx: &mut Ctx<'_>, name: Option<String>, id: Uuid) -> DeletableTopicResult {
    let v = cx.version;
    let resolved = match &name {
        Some(n) => cx.state.topic(n).map(|t| (t.name.clone(), t.id)),
        None => cx.state.topic_name(id).map(|n| (n.to_owned(), id)),
    };
    let mut result = DeletableTopicResult {
        name: name.clone(),
        topic_id: if v >= 6 { id } else { Uuid::ZERO },
        ..DeletableTopicResult::default()
    };
    match resolved {
        Some((n, tid)) => {
            cx.state.delete_topic(&n);
            if v >= 6 {
                result.name = Some(n);
                result.topic_id = tid;
            }
        }
        None => {
            let code = if name.is_some() {
                ErrorCode::UnknownTopicOrPartition
            } else {
                ErrorCode::UnknownTopicId
            };
            result.error_code = code.code();
            if v >= 5 {
                result.error_message = Some(code.description().to_owned());
            }
        }
    }
    result
}

impl Handle for DeleteTopicsRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<DeleteTopicsResponse> {
        let responses = if cx.version >= 6 {
            self.topics
                .iter()
                .map(|t| {
                    let name = t.name.clone().filter(|n| !n.is_empty());
                    delete(cx, name, t.topic_id)
                })
                .collect()
        } else {
            self.topic_names
                .iter()
                .map(|n| delete(cx, Some(n.clone()), Uuid::ZERO))
                .collect()
        };
        Reply::Respond(DeleteTopicsResponse {
            responses,
            ..DeleteTopicsResponse::default()
        })
    }
}
