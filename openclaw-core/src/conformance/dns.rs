//! The [`Dns`] contract as checks.

use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::unique;
use crate::domain::{DeploymentName, InstanceId};
use crate::error::Error;
use crate::ports::ownership::Ownership;
use crate::ports::{Dns, DnsRecord, RecordSpec, RecordType};

/// Two deployments' adapters on one zone.
pub struct DnsFixture {
    /// The adapter under test.
    pub ours: Arc<dyn Dns>,
    /// The deployment `ours` acts for.
    pub owner: DeploymentName,
    /// Another deployment's adapter on the same zone.
    pub theirs: Arc<dyn Dns>,
    /// The deployment `theirs` acts for.
    pub their_owner: DeploymentName,
    /// The zone both manage (`claw.example.com`).
    pub zone: String,
}

/// Runs every check that needs nothing but the fixture; [`unmarked_record_conflicts`] also
/// needs a way to create a record by hand and is run on its own.
pub async fn run_all(f: &DnsFixture) {
    ensure_creates_a_and_aaaa(f).await;
    ensure_creates_only_a_without_ipv6(f).await;
    ensure_twice_creates_nothing(f).await;
    ensure_updates_ours_in_place(f).await;
    other_owners_record_conflicts(f).await;
    other_instances_record_conflicts(f).await;
    delete_is_idempotent(f).await;
    list_owned_only_ours(f).await;
    find_records_sees_every_owner(f).await;
}

/// The records of a new instance of `owner` at `name`, with documentation addresses
/// (192.0.2.0/24, 2001:db8::/32).
pub fn record_spec(owner: &DeploymentName, name: &str, ipv6: bool) -> RecordSpec {
    RecordSpec {
        ownership: Ownership {
            owner: owner.clone(),
            instance: InstanceId::new(),
        },
        name: name.to_string(),
        ipv4: Ipv4Addr::new(192, 0, 2, 10),
        ipv6: ipv6.then(|| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10)),
        ttl: 120,
        proxied: false,
    }
}

/// A fresh name in the zone.
fn fresh_name(f: &DnsFixture) -> String {
    format!("c{}.{}", unique(), f.zone.trim_end_matches('.'))
}

async fn ensure(dns: &Arc<dyn Dns>, spec: &RecordSpec) -> Vec<DnsRecord> {
    dns.ensure_records(spec)
        .await
        .unwrap_or_else(|e| panic!("ensure_records({}) failed: {e}", spec.name))
}

async fn delete_all(dns: &Arc<dyn Dns>, records: &[DnsRecord]) {
    for record in records {
        dns.delete_record(&record.id).await.unwrap();
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(Error::Conflict { .. }) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// With an IPv6 address, `ensure_records` creates an A and an AAAA record carrying the mark,
/// visible to `find_records` and `list_owned`.
pub async fn ensure_creates_a_and_aaaa(f: &DnsFixture) {
    let name = fresh_name(f);
    let spec = record_spec(&f.owner, &name, true);
    let records = ensure(&f.ours, &spec).await;
    let wanted = spec.wanted();
    assert_eq!(records.len(), 2, "{records:?}");
    for (record, (record_type, content)) in records.iter().zip(&wanted) {
        assert_eq!(record.record_type, *record_type);
        assert_eq!(&record.content, content);
        assert!(same_name(&record.name, &name));
        assert_eq!(record.ttl, spec.ttl);
        assert_eq!(record.proxied, spec.proxied);
        assert_eq!(
            record.ownership.as_ref(),
            Some(&spec.ownership),
            "records carry the mark"
        );
    }
    let found = f.ours.find_records(&name).await.unwrap();
    assert_eq!(found.len(), 2);
    let owned = f.ours.list_owned().await.unwrap();
    assert!(records.iter().all(|r| owned.iter().any(|o| o.id == r.id)));
    delete_all(&f.ours, &records).await;
}

/// Without an IPv6 address only the A record is created.
pub async fn ensure_creates_only_a_without_ipv6(f: &DnsFixture) {
    let name = fresh_name(f);
    let records = ensure(&f.ours, &record_spec(&f.owner, &name, false)).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record_type, RecordType::A);
    assert_eq!(f.ours.find_records(&name).await.unwrap().len(), 1);
    delete_all(&f.ours, &records).await;
}

/// Ensuring the same spec again returns the same records and creates none.
pub async fn ensure_twice_creates_nothing(f: &DnsFixture) {
    let name = fresh_name(f);
    let spec = record_spec(&f.owner, &name, true);
    let first = ensure(&f.ours, &spec).await;
    let second = ensure(&f.ours, &spec).await;
    assert_eq!(first, second, "a second ensure changed or created records");
    assert_eq!(f.ours.find_records(&name).await.unwrap().len(), 2);
    delete_all(&f.ours, &first).await;
}

/// Our records are updated in place when content, TTL or proxying change.
pub async fn ensure_updates_ours_in_place(f: &DnsFixture) {
    let name = fresh_name(f);
    let mut spec = record_spec(&f.owner, &name, true);
    let first = ensure(&f.ours, &spec).await;
    spec.ipv4 = Ipv4Addr::new(192, 0, 2, 20);
    spec.ipv6 = Some(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20));
    spec.ttl = 300;
    let moved = ensure(&f.ours, &spec).await;
    assert_eq!(
        moved.iter().map(|r| &r.id).collect::<Vec<_>>(),
        first.iter().map(|r| &r.id).collect::<Vec<_>>(),
        "an update must keep the records"
    );
    assert_eq!(moved[0].content, "192.0.2.20");
    assert_eq!(moved[1].content, "2001:db8::20");
    assert_eq!(moved[0].ttl, 300);
    spec.proxied = true;
    spec.ttl = 1;
    let proxied = ensure(&f.ours, &spec).await;
    assert!(proxied.iter().all(|r| r.proxied));
    let found = f.ours.find_records(&name).await.unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.iter().any(|r| r.content == "192.0.2.20" && r.proxied));
    delete_all(&f.ours, &first).await;
}

/// Asserts `ensure_records` at a name held by `existing` is `Conflict` and leaves `existing`
/// as it was.
async fn assert_refused(f: &DnsFixture, spec: &RecordSpec, existing: &[DnsRecord]) {
    assert_conflict(
        f.ours.ensure_records(spec).await,
        "ensure_records on a record not ours",
    );
    let found = f.ours.find_records(&spec.name).await.unwrap();
    for record in existing {
        assert_eq!(
            found.iter().find(|r| r.id == record.id),
            Some(record),
            "a record that is not ours was changed"
        );
    }
    // Whatever a failed ensure may have created is ours to remove.
    let leftovers: Vec<_> = f
        .ours
        .list_owned()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.belongs_to(&spec.ownership))
        .collect();
    delete_all(&f.ours, &leftovers).await;
}

/// Another deployment's record at the name is not ours: `Conflict`, and it is untouched.
pub async fn other_owners_record_conflicts(f: &DnsFixture) {
    let name = fresh_name(f);
    let theirs = ensure(&f.theirs, &record_spec(&f.their_owner, &name, false)).await;
    assert_refused(f, &record_spec(&f.owner, &name, false), &theirs).await;
    delete_all(&f.theirs, &theirs).await;
}

/// A record of our deployment but another instance is not ours either.
pub async fn other_instances_record_conflicts(f: &DnsFixture) {
    let name = fresh_name(f);
    let first = ensure(&f.ours, &record_spec(&f.owner, &name, true)).await;
    assert_refused(f, &record_spec(&f.owner, &name, true), &first).await;
    delete_all(&f.ours, &first).await;
}

/// A record created by hand (no mark) at the name is `Conflict` and is never overwritten.
/// `insert_unmarked(name, type, content)` creates such a record at the provider.
pub async fn unmarked_record_conflicts<F, Fut>(f: &DnsFixture, insert_unmarked: F)
where
    F: FnOnce(String, RecordType, String) -> Fut,
    Fut: Future<Output = DnsRecord>,
{
    let name = fresh_name(f);
    let manual = insert_unmarked(name.clone(), RecordType::A, "198.51.100.7".into()).await;
    assert!(
        manual.ownership.is_none(),
        "a record made by hand carries no mark"
    );
    assert_refused(
        f,
        &record_spec(&f.owner, &name, false),
        std::slice::from_ref(&manual),
    )
    .await;
    assert!(
        !f.ours
            .list_owned()
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == manual.id),
        "list_owned returned a record made by hand"
    );
    f.ours.delete_record(&manual.id).await.unwrap();
}

/// Deleting a record that is already gone succeeds.
pub async fn delete_is_idempotent(f: &DnsFixture) {
    let name = fresh_name(f);
    let records = ensure(&f.ours, &record_spec(&f.owner, &name, false)).await;
    delete_all(&f.ours, &records).await;
    assert!(f.ours.find_records(&name).await.unwrap().is_empty());
    f.ours
        .delete_record(&records[0].id)
        .await
        .expect("deleting a deleted record succeeds");
}

/// `list_owned` returns our deployment's records and no one else's.
pub async fn list_owned_only_ours(f: &DnsFixture) {
    let ours = ensure(&f.ours, &record_spec(&f.owner, &fresh_name(f), true)).await;
    let theirs = ensure(
        &f.theirs,
        &record_spec(&f.their_owner, &fresh_name(f), true),
    )
    .await;
    let owned = f.ours.list_owned().await.unwrap();
    assert!(ours.iter().all(|r| owned.iter().any(|o| o.id == r.id)));
    assert!(
        !theirs.iter().any(|r| owned.iter().any(|o| o.id == r.id)),
        "list_owned returned another deployment's record"
    );
    assert!(owned
        .iter()
        .all(|r| r.ownership.as_ref().is_some_and(|o| o.owner == f.owner)));
    delete_all(&f.ours, &ours).await;
    delete_all(&f.theirs, &theirs).await;
}

/// `find_records` returns every record at exactly the name, whoever owns it, and nothing
/// at names below it.
pub async fn find_records_sees_every_owner(f: &DnsFixture) {
    let name = fresh_name(f);
    let theirs = ensure(&f.theirs, &record_spec(&f.their_owner, &name, false)).await;
    let below = ensure(
        &f.ours,
        &record_spec(&f.owner, &format!("www.{name}"), false),
    )
    .await;
    let found = f.ours.find_records(&name).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, theirs[0].id);
    assert_eq!(
        found[0].ownership.as_ref().map(|o| &o.owner),
        Some(&f.their_owner),
        "another deployment's mark is reported as theirs"
    );
    delete_all(&f.theirs, &theirs).await;
    delete_all(&f.ours, &below).await;
}
