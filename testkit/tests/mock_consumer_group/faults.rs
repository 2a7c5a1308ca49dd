//! The mock's fault injection on ConsumerGroupHeartbeat (mock only: Kafka has no such hooks).

use gregor_client::{CoordinatorKind, Purpose};
use gregor_protocol::{ApiKey, ErrorCode};
use gregor_testkit::mock::{Action, Intercept};

use super::support::{Member, brokers, code, count, name};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_meet_injected_faults() {
    for b in brokers().await {
        let Some(mock) = b.mock() else { continue };
        let topic = name("cg-faults");
        b.topic(&topic, 2).await;
        let group = name("cg-faults");

        // An injected error answers once, without touching the group.
        mock.intercept(
            ApiKey::ConsumerGroupHeartbeat,
            Intercept::once(Action::Error(ErrorCode::CoordinatorLoadInProgress)),
        )
        .await;
        let mut m1 = Member::new(&group);
        let conn = b.coordinator(&group).await;
        let first = conn.send(m1.join_req(&[&topic])).await.expect("answered");
        assert_eq!(code(&first), ErrorCode::CoordinatorLoadInProgress);
        assert_eq!(mock.consumer_group_state(&group).await, None);
        m1.join(&b, &m1.join_req(&[&topic])).await;
        assert_eq!((m1.epoch, count(&m1.owned)), (1, 2));

        // A response lost on the way back: the member moved to epoch 2 without knowing; its
        // retry with epoch 1 and a subset of its partitions is accepted.
        let mut m2 = Member::new(&group);
        m2.join(&b, &m2.join_req(&[&topic])).await;
        let resp = b.beat(&m1.beat_req()).await;
        let kept = super::support::assigned(resp.assignment.as_ref().expect("reduced"));
        m1.owned = kept;
        mock.intercept(
            ApiKey::ConsumerGroupHeartbeat,
            Intercept::once(Action::DropResponse),
        )
        .await;
        let conn = b.coordinator(&group).await;
        assert!(conn.send(m1.beat_req()).await.is_err());
        let members = mock.consumer_group_members(&group).await;
        assert!(members.contains(&(m1.id.clone(), 2)), "{members:?}");
        let resp = m1.beat(&b).await;
        assert_eq!((code(&resp), resp.member_epoch), (ErrorCode::None, 2));

        // The coordinator moves: the old one answers NOT_COORDINATOR; the member carries on
        // at the new one with its epoch.
        let old = mock.coordinator_of(&group).await.expect("a coordinator");
        let new = if old == 1 { 2 } else { 1 };
        assert!(mock.move_coordinator(&group, new).await.expect("moved"));
        let stale = b
            .client
            .connection(old, Purpose::Control)
            .await
            .expect("old coordinator");
        let resp = stale.send(m1.beat_req()).await.expect("answered");
        assert_eq!(code(&resp), ErrorCode::NotCoordinator);
        b.client.forget_coordinator(CoordinatorKind::Group, &group);
        let resp = m1.beat(&b).await;
        assert_eq!(resp.member_epoch, 2);
        assert_eq!(b.describe(&group).await.members.len(), 2);
    }
}
