//! An error answer for every request, as Kafka's `getErrorResponse` builds them: the code at
//! every level of the response that has one (partitions, topics, groups, the top level), the
//! request's topics and partitions echoed, every other field at its "unknown" value. Used by
//! [`Action::Error`](super::Action::Error) interceptions.

use gregor_protocol::messages::*;
use gregor_protocol::messages::{
    api_versions, create_partitions, create_topics, delete_records, delete_topics, describe_groups,
    fetch, find_coordinator, list_offsets, metadata, offset_commit, offset_fetch,
    offset_for_leader_epoch, produce,
};
use gregor_protocol::{ErrorCode, Request};

/// Builds the response that answers a request with one error code.
pub trait ErrorResponse: Request {
    /// The response to `self` (decoded in `version`) carrying `code`.
    fn error_response(&self, version: i16, code: ErrorCode) -> Self::Response;
}

impl ErrorResponse for ProduceRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> ProduceResponse {
        let responses = self
            .topic_data
            .iter()
            .map(|t| produce::TopicProduceResponse {
                name: t.name.clone(),
                topic_id: t.topic_id,
                partition_responses: t
                    .partition_data
                    .iter()
                    .map(|p| produce::PartitionProduceResponse {
                        index: p.index,
                        error_code: code.code(),
                        base_offset: -1,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        ProduceResponse {
            responses,
            ..Default::default()
        }
    }
}

impl ErrorResponse for FetchRequest {
    fn error_response(&self, version: i16, code: ErrorCode) -> FetchResponse {
        let responses = self
            .topics
            .iter()
            .map(|t| fetch::FetchableTopicResponse {
                topic: t.topic.clone(),
                topic_id: t.topic_id,
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| fetch::PartitionData {
                        partition_index: p.partition,
                        error_code: code.code(),
                        high_watermark: -1,
                        records: Some(bytes::Bytes::new()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        FetchResponse {
            error_code: if version >= 7 { code.code() } else { 0 },
            responses,
            ..Default::default()
        }
    }
}

impl ErrorResponse for ListOffsetsRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> ListOffsetsResponse {
        let topics = self
            .topics
            .iter()
            .map(|t| list_offsets::ListOffsetsTopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| list_offsets::ListOffsetsPartitionResponse {
                        partition_index: p.partition_index,
                        error_code: code.code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        ListOffsetsResponse {
            topics,
            ..Default::default()
        }
    }
}

impl ErrorResponse for MetadataRequest {
    fn error_response(&self, version: i16, code: ErrorCode) -> MetadataResponse {
        let topics = self
            .topics
            .iter()
            .flatten()
            .map(|t| metadata::MetadataResponseTopic {
                error_code: code.code(),
                name: if version >= 12 {
                    t.name.clone()
                } else {
                    Some(t.name.clone().unwrap_or_default())
                },
                topic_id: t.topic_id,
                ..Default::default()
            })
            .collect();
        MetadataResponse {
            topics,
            error_code: if version >= 13 { code.code() } else { 0 },
            ..Default::default()
        }
    }
}

impl ErrorResponse for OffsetCommitRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> OffsetCommitResponse {
        let topics = self
            .topics
            .iter()
            .map(|t| offset_commit::OffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| offset_commit::OffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code.code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        OffsetCommitResponse {
            topics,
            ..Default::default()
        }
    }
}

impl ErrorResponse for OffsetFetchRequest {
    fn error_response(&self, version: i16, code: ErrorCode) -> OffsetFetchResponse {
        if version >= 8 {
            let groups = self
                .groups
                .iter()
                .map(|g| offset_fetch::OffsetFetchResponseGroup {
                    group_id: g.group_id.clone(),
                    error_code: code.code(),
                    ..Default::default()
                })
                .collect();
            return OffsetFetchResponse {
                groups,
                ..Default::default()
            };
        }
        let topics = self
            .topics
            .iter()
            .flatten()
            .map(|t| offset_fetch::OffsetFetchResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partition_indexes
                    .iter()
                    .map(|&p| offset_fetch::OffsetFetchResponsePartition {
                        partition_index: p,
                        committed_offset: -1,
                        error_code: code.code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        OffsetFetchResponse {
            topics,
            error_code: if version >= 2 { code.code() } else { 0 },
            ..Default::default()
        }
    }
}

impl ErrorResponse for FindCoordinatorRequest {
    fn error_response(&self, version: i16, code: ErrorCode) -> FindCoordinatorResponse {
        if version >= 4 {
            let coordinators = self
                .coordinator_keys
                .iter()
                .map(|k| find_coordinator::Coordinator {
                    key: k.clone(),
                    node_id: -1,
                    port: -1,
                    error_code: code.code(),
                    error_message: None,
                    ..Default::default()
                })
                .collect();
            return FindCoordinatorResponse {
                coordinators,
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

impl ErrorResponse for HeartbeatRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> HeartbeatResponse {
        HeartbeatResponse {
            error_code: code.code(),
            ..Default::default()
        }
    }
}

impl ErrorResponse for LeaveGroupRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> LeaveGroupResponse {
        LeaveGroupResponse {
            error_code: code.code(),
            ..Default::default()
        }
    }
}

impl ErrorResponse for SyncGroupRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> SyncGroupResponse {
        SyncGroupResponse {
            error_code: code.code(),
            ..Default::default()
        }
    }
}

impl ErrorResponse for DescribeGroupsRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> DescribeGroupsResponse {
        let groups = self
            .groups
            .iter()
            .map(|g| describe_groups::DescribedGroup {
                error_code: code.code(),
                group_id: g.clone(),
                ..Default::default()
            })
            .collect();
        DescribeGroupsResponse {
            groups,
            ..Default::default()
        }
    }
}

impl ErrorResponse for ListGroupsRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> ListGroupsResponse {
        ListGroupsResponse {
            error_code: code.code(),
            ..Default::default()
        }
    }
}

impl ErrorResponse for SaslHandshakeRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> SaslHandshakeResponse {
        SaslHandshakeResponse {
            error_code: code.code(),
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

impl ErrorResponse for CreateTopicsRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> CreateTopicsResponse {
        let topics = self
            .topics
            .iter()
            .map(|t| create_topics::CreatableTopicResult {
                name: t.name.clone(),
                error_code: code.code(),
                error_message: None,
                ..Default::default()
            })
            .collect();
        CreateTopicsResponse {
            topics,
            ..Default::default()
        }
    }
}

impl ErrorResponse for DeleteTopicsRequest {
    fn error_response(&self, version: i16, code: ErrorCode) -> DeleteTopicsResponse {
        let responses = if version >= 6 {
            self.topics
                .iter()
                .map(|t| delete_topics::DeletableTopicResult {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    error_code: code.code(),
                    ..Default::default()
                })
                .collect()
        } else {
            self.topic_names
                .iter()
                .map(|n| delete_topics::DeletableTopicResult {
                    name: Some(n.clone()),
                    error_code: code.code(),
                    ..Default::default()
                })
                .collect()
        };
        DeleteTopicsResponse {
            responses,
            ..Default::default()
        }
    }
}

impl ErrorResponse for DeleteRecordsRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> DeleteRecordsResponse {
        let topics = self
            .topics
            .iter()
            .map(|t| delete_records::DeleteRecordsTopicResult {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| delete_records::DeleteRecordsPartitionResult {
                        partition_index: p.partition_index,
                        low_watermark: -1,
                        error_code: code.code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        DeleteRecordsResponse {
            topics,
            ..Default::default()
        }
    }
}

impl ErrorResponse for InitProducerIdRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> InitProducerIdResponse {
        InitProducerIdResponse {
            error_code: code.code(),
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        }
    }
}

impl ErrorResponse for OffsetForLeaderEpochRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> OffsetForLeaderEpochResponse {
        let topics = self
            .topics
            .iter()
            .map(|t| offset_for_leader_epoch::OffsetForLeaderTopicResult {
                topic: t.topic.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| offset_for_leader_epoch::EpochEndOffset {
                        error_code: code.code(),
                        partition: p.partition,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        OffsetForLeaderEpochResponse {
            topics,
            ..Default::default()
        }
    }
}

impl ErrorResponse for SaslAuthenticateRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> SaslAuthenticateResponse {
        SaslAuthenticateResponse {
            error_code: code.code(),
            error_message: None,
            ..Default::default()
        }
    }
}

impl ErrorResponse for CreatePartitionsRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> CreatePartitionsResponse {
        let results = self
            .topics
            .iter()
            .map(|t| create_partitions::CreatePartitionsTopicResult {
                name: t.name.clone(),
                error_code: code.code(),
                error_message: None,
                ..Default::default()
            })
            .collect();
        CreatePartitionsResponse {
            results,
            ..Default::default()
        }
    }
}

impl ErrorResponse for ConsumerGroupHeartbeatRequest {
    fn error_response(&self, _version: i16, code: ErrorCode) -> ConsumerGroupHeartbeatResponse {
        ConsumerGroupHeartbeatResponse {
            error_code: code.code(),
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
