//! FindCoordinator (key 10): the coordinator of a group (key type 0) or transactional id
//! (key type 1), one key (v0-3) or a batch (v4+, KIP-699). Any broker answers.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::find_coordinator::Coordinator;
use gregor_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};

use super::RequestCtx;

/// The coordinator's `(node id, host, port)`, or the error and its message.
type Found = Result<(i32, String, i32), (ErrorCode, String)>;

pub(super) fn handle(
    ctx: &RequestCtx<'_>,
    req: &FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let v = ctx.api_version;
    if v >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|key| match find(ctx, req.key_type, key) {
                Ok((node_id, host, port)) => Coordinator {
                    key: key.clone(),
                    node_id,
                    host,
                    port,
                    error_code: 0,
                    error_message: None,
                    ..Default::default()
                },
                Err((e, message)) => Coordinator {
                    key: key.clone(),
                    node_id: -1,
                    host: String::new(),
                    port: -1,
                    error_code: e.code(),
                    error_message: Some(message),
                    ..Default::default()
                },
            })
            .collect();
        return FindCoordinatorResponse {
            coordinators,
            ..Default::default()
        };
    }
    let (error, message, (node_id, host, port)) = match find(ctx, req.key_type, &req.key) {
        Ok(found) => (ErrorCode::None, None, found),
        Err((e, message)) => (e, Some(message), (-1, String::new(), -1)),
    };
    FindCoordinatorResponse {
        error_code: error.code(),
        // Version 0 has no message field: keep its default.
        error_message: if v >= 1 { message } else { Some(String::new()) },
        node_id,
        host,
        port,
        ..Default::default()
    }
}

fn find(ctx: &RequestCtx<'_>, key_type: i8, key: &str) -> Found {
    let node = match key_type {
        0 => ctx.topology.group_coordinator(key),
        1 => ctx.topology.transaction_coordinator(key),
        other => {
            let message = format!("Unsupported coordinator key type {other}.");
            return Err((ErrorCode::InvalidRequest, message));
        }
    };
    let not_available = || {
        let e = ErrorCode::CoordinatorNotAvailable;
        (e, e.description().to_owned())
    };
    let node = node.ok_or_else(not_available)?;
    let (host, port) = ctx
        .topology
        .broker_address(node)
        .ok_or_else(not_available)?;
    Ok((node, host, port))
}
