//! An error answer for every request, as Kafka's `getErrorResponse` builds them: the code at
//! every level of the response that has one (partitions, topics, groups, the top level), the
//! request's topics and partitions echoed, every other field at its "unknown" value. Used by
//! [`Action::Error`](super::Action::Error) interceptions.

use gregor_protocol::messages::*;
use gregor_protocol::messages::{
    api_versions, consumer_group_describe, create_partitions, create_topics, delete_records,
    delete_topics, describe_groups, fetch, find_coordinator, list_offsets, metadata, offset_commit,
    offset_fetch, offset_for_leader_epoch, produce,
};
use gregor_protocol::{ErrorCode, Request};

/// Builds the response that answers a request with one error code.
pub trait ErrorResponse: Request {
    /// The response to `self` (decoded in `version`) carrying `code`.
    fn error_response(&self, version: i16, code: ErrorCode) -> Self::Response;
}

/// Per-topic results echoing the request's topics (`for t in <iterator>`), each with its
/// partitions (`<field>: for p in <the request topic's field>`) carrying `$code`. Fields not
/// named hold their defaults.
macro_rules! partition_errors {
    (
        $code:ident, for $t:ident in $topics:expr => $($topic_ty:ident)::+ { $($tf:ident: $tv:expr),* $(,)? },
        $parts_out:ident: for $p:ident in $parts_in:ident => $($part_ty:ident)::+ { $($pf:ident: $pv:expr),* $(,)? } $(,)?
    ) => {
        $topics
            .map(|$t| $($topic_ty)::+ {
                $($tf: $tv,)*
                $parts_out: $t
                    .$parts_in
                    .iter()
                    .map(|$p| $($part_ty)::+ {
                        error_code: $code.code(),
                        $($pf: $pv,)*
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect()
    };
}

/// Entries echoing the request's topics or groups (`for x in <iterator>`), each carrying
/// `$code`. Fields not named hold their defaults.
macro_rules! entry_errors {
    ($code:ident, for $x:ident in $items:expr => $($entry_ty:ident)::+ { $($f:ident: $v:expr),* $(,)? }) => {
        $items
            .map(|$x| $($entry_ty)::+ {
                error_code: $code.code(),
                $($f: $v,)*
                ..Default::default()
            })
            .collect()
    };
}

/// `impl ErrorResponse` for responses whose only error code is at the top level, whatever the
/// version: the code there, the fields named, every other field at its default.
macro_rules! top_level_errors {
    ($($req:ty => $resp:ident { $($f:ident: $v:expr),* $(,)? };)*) => {$(
        impl ErrorResponse for $req {
            fn error_response(&self, _version: i16, code: ErrorCode) -> $resp {
                $resp {
                    error_code: code.code(),
                    $($f: $v,)*
                    ..Default::default()
                }
            }
        }
    )*};
}

/// `impl ErrorResponse` for responses made of one list echoing a list of the request, the
/// same in every version: with a `partitions` clause each entry is a topic whose partitions
/// carry the code ([`partition_errors!`]), else each entry carries it ([`entry_errors!`]).
macro_rules! list_errors {
    ($(
        $req:ty => $resp:ident { $list:ident: for $t:ident in $source:ident
            => $($topic_ty:ident)::+ { $($tf:ident: $tv:expr),* $(,)? }
            $(, partitions $parts_out:ident: for $p:ident in $parts_in:ident
                => $($part_ty:ident)::+ { $($pf:ident: $pv:expr),* $(,)? })? $(,)?
        };
    )*) => {$(
        impl ErrorResponse for $req {
            fn error_response(&self, _version: i16, code: ErrorCode) -> $resp {
                $resp {
                    $list: list_errors!(@list code, for $t in self.$source.iter()
                        => $($topic_ty)::+ { $($tf: $tv),* }
                        $(, $parts_out: for $p in $parts_in => $($part_ty)::+ { $($pf: $pv),* })?),
                    ..Default::default()
                }
            }
        }
    )*};
    (@list $code:ident, for $t:ident in $items:expr => $($topic_ty:ident)::+ { $($tf:ident: $tv:expr),* },
        $parts_out:ident: for $p:ident in $parts_in:ident => $($part_ty:ident)::+ { $($pf:ident: $pv:expr),* }) => {
        partition_errors!($code, for $t in $items => $($topic_ty)::+ { $($tf: $tv),* },
            $parts_out: for $p in $parts_in => $($part_ty)::+ { $($pf: $pv),* })
    };
    (@list $code:ident, for $t:ident in $items:expr => $($topic_ty:ident)::+ { $($tf:ident: $tv:expr),* }) => {
        entry_errors!($code, for $t in $items => $($topic_ty)::+ { $($tf: $tv),* })
    };
}

list_errors! {
    ProduceRequest => ProduceResponse { responses: for t in topic_data
        => produce::TopicProduceResponse { name: t.name.clone(), topic_id: t.topic_id },
        partitions partition_responses: for p in partition_data
        => produce::PartitionProduceResponse { index: p.index, base_offset: -1 }
    };
    ListOffsetsRequest => ListOffsetsResponse { topics: for t in topics
        => list_offsets::ListOffsetsTopicResponse { name: t.name.clone() },
        partitions partitions: for p in partitions
        => list_offsets::ListOffsetsPartitionResponse { partition_index: p.partition_index }
    };
    OffsetCommitRequest => OffsetCommitResponse { topics: for t in topics
        => offset_commit::OffsetCommitResponseTopic { name: t.name.clone() },
        partitions partitions: for p in partitions
        => offset_commit::OffsetCommitResponsePartition { partition_index: p.partition_index }
    };
    DeleteRecordsRequest => DeleteRecordsResponse { topics: for t in topics
        => delete_records::DeleteRecordsTopicResult { name: t.name.clone() },
        partitions partitions: for p in partitions
        => delete_records::DeleteRecordsPartitionResult {
            partition_index: p.partition_index,
            low_watermark: -1,
        }
    };
    OffsetForLeaderEpochRequest => OffsetForLeaderEpochResponse { topics: for t in topics
        => offset_for_leader_epoch::OffsetForLeaderTopicResult { topic: t.topic.clone() },
        partitions partitions: for p in partitions
        => offset_for_leader_epoch::EpochEndOffset { partition: p.partition }
    };
    DescribeGroupsRequest => DescribeGroupsResponse { groups: for g in groups
        => describe_groups::DescribedGroup { group_id: g.clone() }
    };
    ConsumerGroupDescribeRequest => ConsumerGroupDescribeResponse { groups: for g in group_ids
        => consumer_group_describe::DescribedGroup { group_id: g.clone() }
    };
    CreateTopicsRequest => CreateTopicsResponse { topics: for t in topics
        => create_topics::CreatableTopicResult { name: t.name.clone(), error_message: None }
    };
    CreatePartitionsRequest => CreatePartitionsResponse { results: for t in topics
        => create_partitions::CreatePartitionsTopicResult {
            name: t.name.clone(),
            error_message: None,
        }
    };
}

top_level_errors! {
    HeartbeatRequest => HeartbeatResponse {};
    LeaveGroupRequest => LeaveGroupResponse {};
    SyncGroupRequest => SyncGroupResponse {};
    ListGroupsRequest => ListGroupsResponse {};
    SaslHandshakeRequest => SaslHandshakeResponse {};
    ConsumerGroupHeartbeatRequest => ConsumerGroupHeartbeatResponse {};
    InitProducerIdRequest => InitProducerIdResponse { producer_id: -1, producer_epoch: -1 };
    SaslAuthenticateRequest => SaslAuthenticateResponse { error_message: None };
}

impl ErrorResponse for FetchRequest {
    fn error_response(&self, version: i16, code: ErrorCode) -> FetchResponse {
        FetchResponse {
            error_code: if version >= 7 { code.code() } else { 0 },
            responses: partition_errors!(code,
                for t in self.topics.iter()
                => fetch::FetchableTopicResponse { topic: t.topic.clone(), topic_id: t.topic_id },
                partitions: for p in partitions => fetch::PartitionData {
                    partition_index: p.partition,
                    high_watermark: -1,
                    records: Some(bytes::Bytes::new()),
                }
            ),
            ..Default::default()
        }
    }
}

impl ErrorResponse for MetadataRequest {
    fn error_response(&self, version: i16, code: ErrorCode) -> MetadataResponse {
        MetadataResponse {
            topics: entry_errors!(code,
                for t in self.topics.iter().flatten() => metadata::MetadataResponseTopic {
                    name: if version >= 12 {
                        t.name.clone()
                    } else {
                        Some(t.name.clone().unwrap_or_default())
                    },
                    topic_id: t.topic_id,
                }
            ),
            error_code: if version >= 13 { code.code() } else { 0 },
            ..Default::default()
        }
    }
}

impl ErrorResponse for OffsetFetchRequest {
    fn error_response(&self, version: i16, code: ErrorCode) -> OffsetFetchResponse {
        if version >= 8 {
            return OffsetFetchResponse {
                groups: entry_errors!(code,
                    for g in self.groups.iter()
                    => offset_fetch::OffsetFetchResponseGroup { group_id: g.group_id.clone() }
                ),
                ..Default::default()
            };
        }
        OffsetFetchResponse {
            topics: partition_errors!(code,
                for t in self.topics.iter().flatten()
                => offset_fetch::OffsetFetchResponseTopic { name: t.name.clone() },
                partitions: for p in partition_indexes => offset_fetch::OffsetFetchResponsePartition {
                    partition_index: *p,
                    committed_offset: -1,
                }
            ),
            error_code: if version >= 2 { code.code() } else { 0 },
            ..Default::default()
        }
    }
}

impl ErrorResponse for FindCoordinatorRequest {
    fn error_response(&self, version: i16, code: ErrorCode) -> FindCoordinatorResponse {
        if version >= 4 {
            return FindCoordinatorResponse {
                coordinators: entry_errors!(code,
                    for k in self.coordinator_keys.iter() => find_coordinator::Coordinator {
                        key: k.clone(),
                        node_id: -1,
                        port: -1,
                        error_message: None,
                    }
                ),
                ..Default::default()
            };
        }
        FindCoordinatorResponse {
            error_code: code.code(),
            error_message: if version >= 1 {
                None
            } else {
                Some(String::new())
            },
            node_id: -1,
            port: -1,
            ..Default::default()
        }
    }
}

impl ErrorResponse for JoinGroupRequest {
    fn error_response(&self, version: i16, code: ErrorCode) -> JoinGroupResponse {
        JoinGroupResponse {
            error_code: code.code(),
            generation_id: -1,
            protocol_name: if version >= 7 {
                None
            } else {
                Some(String::new())
            },
            ..Default::default()
        }
    }
}

impl ErrorResponse for ApiVersionsRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> ApiVersionsResponse {
        let api_keys = if code == ErrorCode::UnsupportedVersion {
            vec![api_versions::ApiVersion {
                api_key: ApiVersionsRequest::API_KEY.code(),
                min_version: <ApiVersionsRequest as gregor_protocol::Message>::VERSIONS.min,
                max_version: <ApiVersionsRequest as gregor_protocol::Message>::VERSIONS.max,
                ..Default::default()
            }]
        } else {
            Vec::new()
        };
        ApiVersionsResponse {
            error_code: code.code(),
            api_keys,
            ..Default::default()
        }
    }
}

impl ErrorResponse for DeleteTopicsRequest {
    fn error_response(&self, version: i16, code: ErrorCode) -> DeleteTopicsResponse {
        let responses = if version >= 6 {
            entry_errors!(code,
                for t in self.topics.iter() => delete_topics::DeletableTopicResult {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                }
            )
        } else {
            entry_errors!(code,
                for n in self.topic_names.iter()
                => delete_topics::DeletableTopicResult { name: Some(n.clone()) }
            )
        };
        DeleteTopicsResponse {
            responses,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use gregor_protocol::Message;

    use super::*;

    /// Every API's error answer encodes in every version its request decodes in, for random
    /// requests of that version.
    #[test]
    fn error_responses_encode_in_every_version() {
        let seed: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        macro_rules! check {
            ($(($key:ident, $req:ty, $resp:ty)),* $(,)?) => {$(
                for v in <$req as Message>::VERSIONS.iter() {
                    for round in 0..8 {
                        let mut u = arbitrary::Unstructured::new(&seed[round * 300..]);
                        let Ok(req) = <$req>::sample(&mut u, v) else { continue };
                        let resp = req.error_response(v, ErrorCode::NotLeaderOrFollower);
                        let mut buf = BytesMut::new();
                        resp.encode(&mut buf, v).unwrap_or_else(|e| {
                            panic!("{} v{v}: {e}", stringify!($key))
                        });
                    }
                }
            )*};
        }
        gregor_protocol::for_each_api!(check);
    }
}
