use super::*;

fn tp(p: i32) -> Partition {
    ("t".to_owned(), p)
}

fn log(lines: &[&str]) -> Vec<PeerEvent> {
    lines.iter().map(|l| PeerEvent::parse(l)).collect()
}

fn produced(ends: &[(i32, i64)]) -> BTreeMap<Partition, i64> {
    ends.iter().map(|(p, e)| (tp(*p), *e)).collect()
}

/// a reads 0..=9 of t-0, commits 10 and hands it over; b reads from 10 (or `b_from`).
fn handoff(b_from: i64, a_killed: bool) -> AuditReport {
    let mut audit = GroupAudit::new(produced(&[(0, 20)]));
    let mut a = vec![
        "ready",
        "assigned t 0",
        "records t 0 0 9 10 1 100",
        "committed t 0 6",
    ];
    if !a_killed {
        a.extend(["committed t 0 10", "revoked t 0", "closed"]);
    }
    audit.add_member("a", &log(&a), a_killed);
    let b_records = format!("records t 0 {b_from} 19 {} 2 200", 20 - b_from);
    audit.add_member("b", &log(&["assigned t 0", &b_records]), false);
    audit.report()
}

#[test]
fn a_clean_handoff_is_clean() {
    let report = handoff(10, false);
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        (
            report.delivered,
            report.deliveries,
            report.duplicates,
            report.gaps
        ),
        (20, 20, 0, 0)
    );
    assert_eq!(report.commits, 2);
    assert_eq!(
        report.longest_stall,
        Some((tp(0), Duration::from_millis(100)))
    );
}

#[test]
fn a_gap_is_found() {
    let report = handoff(12, false);
    assert_eq!(report.gaps, 2);
    assert_eq!(report.violations.len(), 1, "{report}");
    assert!(report.violations[0].contains("10..12"), "{report}");
}

#[test]
fn a_duplicate_after_a_graceful_handoff_is_a_violation() {
    let report = handoff(8, false);
    assert_eq!((report.duplicates, report.duplicates_after_kill), (2, 0));
    assert_eq!(report.violations.len(), 1, "{report}");
    assert!(report.violations[0].contains("8..10"), "{report}");
}

#[test]
fn a_duplicate_names_the_failed_commits_of_the_member_before() {
    let mut audit = GroupAudit::new(produced(&[(0, 20)]));
    let a = [
        "assigned t 0",
        "records t 0 0 9 10 1 100",
        "commit-failed closing: rebalancing",
        "closed",
    ];
    audit.add_member("a", &log(&a), false);
    audit.add_member(
        "b",
        &log(&["assigned t 0", "records t 0 0 19 20 2 200"]),
        false,
    );
    let report = audit.report();
    assert_eq!((report.duplicates, report.commit_failures), (10, 1));
    assert_eq!(report.violations.len(), 1, "{report}");
    assert!(
        report.violations[0]
            .contains("a not killed; its commit failed 1 times, last: closing: rebalancing"),
        "{report}"
    );
}

#[test]
fn after_a_kill_only_what_followed_the_last_commit_may_come_again() {
    // a committed 6 and died: b reading 6..=9 again is explained.
    let report = handoff(6, true);
    assert!(report.is_clean(), "{report}");
    assert_eq!((report.duplicates, report.duplicates_after_kill), (4, 4));
    // b reading from 4: 4 and 5 had been committed.
    let report = handoff(4, true);
    assert_eq!((report.duplicates, report.duplicates_after_kill), (6, 4));
    assert_eq!(report.violations.len(), 1, "{report}");
    assert!(report.violations[0].contains("4..6"), "{report}");
}

#[test]
fn two_members_delivering_at_once_break_ownership_unless_one_was_killed() {
    let a = log(&[
        "assigned t 0",
        "records t 0 0 4 5 1 100",
        "records t 0 5 9 5 1 300",
    ]);
    let b = log(&["assigned t 0", "records t 0 10 19 10 2 200"]);
    let mut audit = GroupAudit::new(produced(&[(0, 20)]));
    audit.add_member("a", &a, false);
    audit.add_member("b", &b, false);
    let report = audit.report();
    assert_eq!(report.violations.len(), 1, "{report}");
    assert!(report.violations[0].contains("at once"), "{report}");
    let mut audit = GroupAudit::new(produced(&[(0, 20)]));
    audit.add_member("a", &a, true);
    audit.add_member("b", &b, false);
    let report = audit.report();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.overlaps_after_kill, 1);
}

#[test]
fn deliveries_and_commits_outside_an_assignment_are_violations() {
    let mut audit = GroupAudit::new(produced(&[(0, 10), (1, 0)]));
    audit.add_member(
        "a",
        &log(&[
            "assigned t 0",
            "records t 0 0 9 10 1 100",
            "revoked t 0",
            "records t 1 0 0 1 1 110",
            "committed t 0 10",
        ]),
        false,
    );
    let report = audit.report();
    let text = report.to_string();
    assert!(
        text.contains("delivered t-1 offsets 0..=0 without owning it"),
        "{text}"
    );
    assert!(
        text.contains("committed t-0 offset 10 without owning it"),
        "{text}"
    );
    assert!(
        text.contains("t-1 delivered offsets never produced"),
        "{text}"
    );
    assert_eq!(report.violations.len(), 3, "{text}");
}

#[test]
fn commits_beyond_what_was_delivered_or_going_back_are_violations() {
    let mut audit = GroupAudit::new(produced(&[(0, 20)]));
    audit.add_member(
        "a",
        &log(&[
            "assigned t 0",
            "committed t 0 0",
            "records t 0 0 9 10 1 100",
            "committed t 0 12",
            "committed t 0 10",
            "committed t 0 9",
            "revoked t 0",
        ]),
        false,
    );
    audit.add_member(
        "b",
        &log(&[
            "assigned t 0",
            "records t 0 10 19 10 2 200",
            "committed t 0 10",
            "committed t 0 8",
        ]),
        false,
    );
    let report = audit.report();
    let text = report.to_string();
    assert!(
        text.contains("a committed t-0 offset 0, not within"),
        "{text}"
    );
    assert!(
        text.contains("a committed t-0 offset 12, not within"),
        "{text}"
    );
    assert!(
        text.contains("a committed t-0 offset 10 after 12"),
        "{text}"
    );
    assert!(text.contains("a committed t-0 offset 9 after 10"), "{text}");
    assert!(
        text.contains("b committed t-0 offset 8, not within"),
        "{text}"
    );
    assert!(text.contains("b committed t-0 offset 8 after 10"), "{text}");
    assert!(text.contains("commits went back"), "{text}");
    assert_eq!(report.violations.len(), 7, "{text}");
}

#[test]
fn errors_unknown_lines_and_failures_are_reported() {
    let mut audit = GroupAudit::new(BTreeMap::new());
    audit.add_member(
        "a",
        &log(&[
            "ready",
            "commit-failed boom",
            "lost t 0 t 1",
            "hello",
            "error oops",
        ]),
        false,
    );
    let report = audit.report();
    assert_eq!((report.commit_failures, report.lost), (1, 2));
    assert_eq!(report.violations.len(), 2, "{report}");
}

#[test]
fn runs_split_where_offsets_jump() {
    assert_eq!(runs_of(&[1, 2, 3, 7, 8, 10]), [(1, 4), (7, 9), (10, 11)]);
    assert!(runs_of(&[]).is_empty());
    let mut audit = GroupAudit::new(produced(&[(0, 11)]));
    audit.add_member(
        "a",
        &log(&["assigned t 0", "records t 0 0 10 4 1 5 0 1 2 10"]),
        false,
    );
    let report = audit.report();
    assert_eq!((report.delivered, report.gaps), (4, 7), "{report}");
}

#[test]
fn duplicates_from_one_member_to_another_make_one_violation() {
    let mut audit = GroupAudit::new(produced(&[(0, 20)]));
    let a = [
        "assigned t 0",
        "records t 0 0 4 5 1 100",
        "records t 0 5 9 5 1 110",
        "revoked t 0",
    ];
    audit.add_member("a", &log(&a), false);
    audit.add_member(
        "b",
        &log(&["assigned t 0", "records t 0 0 19 20 2 200"]),
        false,
    );
    let report = audit.report();
    assert_eq!(report.duplicates, 10);
    assert_eq!(report.violations.len(), 1, "{report}");
    assert!(
        report.violations[0]
            .contains("offsets 0..10 (10 of them) delivered by a (from 100) again by b (from 200)"),
        "{report}"
    );
}
