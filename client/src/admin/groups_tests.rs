use bytes::BytesMut;
use gregor_protocol::Message;
use gregor_protocol::messages::describe_groups::{DescribedGroup, DescribedGroupMember};
use gregor_protocol::messages::list_groups::ListedGroup;

use super::*;

#[test]
fn list_groups_filters_need_their_versions() {
    let none = ListGroupsOptions::default();
    for version in ListGroupsRequest::VERSIONS.iter() {
        let request = list_groups_request(&none, version).unwrap();
        request.encode(&mut BytesMut::new(), version).unwrap();
    }
    let states = ListGroupsOptions::default().states(["Stable"]);
    assert!(matches!(
        list_groups_request(&states, 3),
        Err(ClientError::FeatureNotSupported {
            needs: 4,
            negotiated: 3,
            ..
        })
    ));
    assert_eq!(
        list_groups_request(&states, 4).unwrap().states_filter,
        ["Stable"]
    );
    let types = ListGroupsOptions::default().types(["consumer"]);
    assert!(matches!(
        list_groups_request(&types, 4),
        Err(ClientError::FeatureNotSupported { needs: 5, .. })
    ));
    assert_eq!(
        list_groups_request(&types, 5).unwrap().types_filter,
        ["consumer"]
    );
}

#[test]
fn listed_groups_keep_only_fields_of_the_version() {
    let response = ListGroupsResponse {
        groups: vec![ListedGroup {
            group_id: "g".into(),
            protocol_type: "consumer".into(),
            group_state: "Stable".into(),
            group_type: "classic".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let v5 = listed_groups(&response, 5, 1).unwrap();
    assert_eq!(v5[0].state.as_deref(), Some("Stable"));
    assert_eq!(v5[0].group_type.as_deref(), Some("classic"));
    assert_eq!(v5[0].coordinator, 1);
    let v3 = listed_groups(&response, 3, 1).unwrap();
    assert_eq!(
        (v3[0].state.as_ref(), v3[0].group_type.as_ref()),
        (None, None)
    );
    let failed = ListGroupsResponse {
        error_code: ErrorCode::CoordinatorLoadInProgress.code(),
        ..Default::default()
    };
    assert!(matches!(
        listed_groups(&failed, 5, 1),
        Err(ClientError::Broker {
            api: ApiKey::ListGroups,
            code: ErrorCode::CoordinatorLoadInProgress
        })
    ));
}

#[test]
fn described_groups_are_typed_and_coordinator_errors_forget() {
    let group = |id: &str, code: ErrorCode| DescribedGroup {
        group_id: id.into(),
        error_code: code.code(),
        group_state: "Stable".into(),
        protocol_type: "consumer".into(),
        protocol_data: "range".into(),
        members: vec![DescribedGroupMember {
            member_id: "m-1".into(),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            member_metadata: Bytes::from_static(b"sub"),
            member_assignment: Bytes::from_static(b"asg"),
            ..Default::default()
        }],
        ..Default::default()
    };
    let response = DescribeGroupsResponse {
        groups: vec![
            group("ok", ErrorCode::None),
            group("moved", ErrorCode::NotCoordinator),
            group("denied", ErrorCode::GroupAuthorizationFailed),
        ],
        ..Default::default()
    };
    let mut forgotten = Vec::new();
    let outcomes = describe_groups_outcomes(&response, 3, |g| forgotten.push(g.to_owned()));
    match &outcomes[0].1 {
        Outcome::Done(Ok(d)) => {
            assert_eq!((d.state.as_str(), d.protocol.as_str()), ("Stable", "range"));
            assert_eq!(d.coordinator, 3);
            assert_eq!(d.members[0].member_id, "m-1");
            assert_eq!(d.members[0].assignment, Bytes::from_static(b"asg"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(outcomes[1].1, Outcome::Retry(_)));
    assert!(matches!(
        outcomes[2].1,
        Outcome::Done(Err(ErrorCode::GroupAuthorizationFailed))
    ));
    assert_eq!(forgotten, ["moved"]);
}
