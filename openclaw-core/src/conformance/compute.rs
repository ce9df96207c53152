//! The [`Compute`] contract as checks.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::{DeploymentName, InstanceId, ServerId};
use crate::error::{Error, ErrorClass};
use crate::ports::ownership::{server_labels, server_name};
use crate::ports::{Compute, Server, ServerSpec, ServerStatus};
use crate::secret::SecretString;

/// Two deployments' adapters on one provider account.
pub struct ComputeFixture {
    /// The adapter under test.
    pub ours: Arc<dyn Compute>,
    /// The deployment `ours` acts for.
    pub owner: DeploymentName,
    /// Another deployment's adapter on the same account.
    pub theirs: Arc<dyn Compute>,
    /// The deployment `theirs` acts for.
    pub their_owner: DeploymentName,
    /// How long, at least, the provider keeps a deleted server as [`ServerStatus::Deleting`]
    /// before it is gone (zero: gone at once); the provider must be set up so. Hetzner's
    /// deletions take seconds: a fixture that lingers holds the adapter to
    /// [`deleting_server_is_never_adopted`], and the checks that need a server gone for good
    /// wait this long for it.
    pub deleting_for: Duration,
}

/// How long after `deleting_for` a deleted server may still be there before a check fails.
const GONE_MARGIN: Duration = Duration::from_secs(10);

/// Time between two looks at a server being deleted.
const POLL: Duration = Duration::from_millis(50);

/// Runs every check.
pub async fn run_all(f: &ComputeFixture) {
    create_find_get_delete(f).await;
    create_reports_addresses(f).await;
    create_same_name_adopts(f).await;
    create_conflicts_with_other_owners_name(f).await;
    power_off_and_on_are_idempotent(f).await;
    power_on_unknown_is_not_found(f).await;
    change_type_keeps_the_disk_and_allows_going_back(f).await;
    change_type_refuses_what_does_not_fit(f).await;
    delete_is_idempotent(f).await;
    get_unknown_is_none(f).await;
    list_owned_excludes_other_owners(f).await;
    deleting_server_is_never_adopted(f).await;
}

/// The spec of `instance`'s server as the engine builds it: deterministic name, ownership
/// labels, the smallest plan.
pub fn server_spec(owner: &DeploymentName, instance: InstanceId, enable_ipv6: bool) -> ServerSpec {
    ServerSpec {
        instance_id: instance,
        name: server_name(instance),
        owner: owner.clone(),
        server_type: "cpx22".into(),
        image: "ubuntu-24.04".into(),
        location: "fsn1".into(),
        user_data: SecretString::new("#cloud-config\n{}\n"),
        labels: server_labels(owner, instance),
        ssh_keys: Vec::new(),
        firewalls: Vec::new(),
        enable_ipv6,
    }
}

async fn create(compute: &Arc<dyn Compute>, spec: &ServerSpec) -> Server {
    compute
        .create_server(spec)
        .await
        .unwrap_or_else(|e| panic!("create_server({}) failed: {e}", spec.name))
}

/// The id of a server that existed and whose deletion has finished: an id the provider
/// would accept but does not know.
async fn gone_id(f: &ComputeFixture) -> ServerId {
    let server = create(&f.ours, &server_spec(&f.owner, InstanceId::new(), false)).await;
    f.ours.delete_server(&server.id).await.unwrap();
    until_gone(f, &server.id).await;
    server.id
}

/// Waits until the deletion of `id` has finished, `get_server` answering `None`.
async fn until_gone(f: &ComputeFixture, id: &ServerId) {
    let deadline = Instant::now() + f.deleting_for + GONE_MARGIN;
    tokio::time::sleep(f.deleting_for).await;
    while f.ours.get_server(id).await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "server {id} was still there {:?} after its delete",
            f.deleting_for + GONE_MARGIN
        );
        tokio::time::sleep(POLL).await;
    }
}

/// After a delete a server is gone, or at most still being deleted.
fn gone(server: Option<&Server>) -> bool {
    server.is_none_or(|s| s.status == ServerStatus::Deleting)
}

/// A created server carries its name and ownership labels and is found by its instance,
/// by id and in the owned list; after deletion it is none of these.
pub async fn create_find_get_delete(f: &ComputeFixture) {
    let instance = InstanceId::new();
    let spec = server_spec(&f.owner, instance, false);
    let server = create(&f.ours, &spec).await;
    assert_eq!(server.name, spec.name);
    let ownership = server
        .ownership()
        .expect("a created server carries ownership labels");
    assert_eq!(
        (ownership.owner, ownership.instance),
        (f.owner.clone(), instance)
    );
    assert!(
        !matches!(server.status, ServerStatus::Deleting | ServerStatus::Off),
        "a new server is starting or running, not {:?}",
        server.status
    );
    let found = f.ours.find_server(instance).await.unwrap();
    assert_eq!(
        found.map(|s| s.id),
        Some(server.id.clone()),
        "find_server by label"
    );
    let got = f.ours.get_server(&server.id).await.unwrap();
    assert_eq!(
        got.as_ref().map(|s| &s.name),
        Some(&spec.name),
        "get_server by id"
    );
    let owned = f.ours.list_owned().await.unwrap();
    assert!(
        owned.iter().any(|s| s.id == server.id),
        "list_owned lacks a new server"
    );

    f.ours.delete_server(&server.id).await.unwrap();
    assert!(gone(f.ours.get_server(&server.id).await.unwrap().as_ref()));
    assert!(gone(f.ours.find_server(instance).await.unwrap().as_ref()));
    let owned = f.ours.list_owned().await.unwrap();
    assert!(gone(owned.iter().find(|s| s.id == server.id)));
}

/// `create_server` answers with the public IPv4 address, and an IPv6 address exactly when
/// asked for one.
pub async fn create_reports_addresses(f: &ComputeFixture) {
    let with_v6 = create(&f.ours, &server_spec(&f.owner, InstanceId::new(), true)).await;
    let without = create(&f.ours, &server_spec(&f.owner, InstanceId::new(), false)).await;
    assert!(
        with_v6.ipv4.is_some() && without.ipv4.is_some(),
        "no IPv4 in the create response"
    );
    assert!(with_v6.ipv6.is_some(), "IPv6 was asked for");
    assert!(without.ipv6.is_none(), "IPv6 was not asked for");
    assert_ne!(with_v6.ipv4, without.ipv4);
    f.ours.delete_server(&with_v6.id).await.unwrap();
    f.ours.delete_server(&without.id).await.unwrap();
}

/// Creating a server whose name exists with our labels adopts it: same id, no second server.
pub async fn create_same_name_adopts(f: &ComputeFixture) {
    let instance = InstanceId::new();
    let spec = server_spec(&f.owner, instance, false);
    let first = create(&f.ours, &spec).await;
    let second = create(&f.ours, &spec).await;
    assert_eq!(second.id, first.id, "a second create made a second server");
    let of_instance: Vec<_> = f
        .ours
        .list_owned()
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.ownership().is_some_and(|o| o.instance == instance))
        .collect();
    assert_eq!(of_instance.len(), 1, "{of_instance:?}");
    f.ours.delete_server(&first.id).await.unwrap();
}

/// A name taken by another deployment's server is `Conflict`; their server is untouched.
pub async fn create_conflicts_with_other_owners_name(f: &ComputeFixture) {
    let instance = InstanceId::new();
    let theirs = create(&f.theirs, &server_spec(&f.their_owner, instance, false)).await;
    match f
        .ours
        .create_server(&server_spec(&f.owner, instance, false))
        .await
    {
        Err(Error::Conflict { .. }) => {}
        other => {
            panic!("create_server on another deployment's name: expected Conflict, got {other:?}")
        }
    }
    let still = f.theirs.get_server(&theirs.id).await.unwrap();
    assert_eq!(still.map(|s| s.labels), Some(theirs.labels.clone()));
    assert!(f.ours.find_server(instance).await.unwrap().is_none());
    f.theirs.delete_server(&theirs.id).await.unwrap();
}

/// Power off and on reach their state when they return, and repeating them succeeds.
pub async fn power_off_and_on_are_idempotent(f: &ComputeFixture) {
    let server = create(&f.ours, &server_spec(&f.owner, InstanceId::new(), false)).await;
    let status = |s: Option<Server>| s.map(|s| s.status);
    f.ours.power_off(&server.id).await.unwrap();
    assert_eq!(
        status(f.ours.get_server(&server.id).await.unwrap()),
        Some(ServerStatus::Off)
    );
    f.ours
        .power_off(&server.id)
        .await
        .expect("powering off an off server succeeds");
    f.ours.power_on(&server.id).await.unwrap();
    assert_eq!(
        status(f.ours.get_server(&server.id).await.unwrap()),
        Some(ServerStatus::Running)
    );
    f.ours
        .power_on(&server.id)
        .await
        .expect("powering on a running server succeeds");
    f.ours.delete_server(&server.id).await.unwrap();
}

/// Power operations on an unknown server are `NotFound`.
pub async fn power_on_unknown_is_not_found(f: &ComputeFixture) {
    let id = gone_id(f).await;
    for (op, result) in [
        ("power_on", f.ours.power_on(&id).await),
        ("power_off", f.ours.power_off(&id).await),
    ] {
        match result {
            Err(Error::NotFound { .. }) => {}
            other => panic!("{op} of an unknown server: expected NotFound, got {other:?}"),
        }
    }
}

/// A powered-off server changes type, keeps its disk (so it can go back to the smaller type)
/// and stays off; changing to the type it has succeeds without a change.
pub async fn change_type_keeps_the_disk_and_allows_going_back(f: &ComputeFixture) {
    let server = create(&f.ours, &server_spec(&f.owner, InstanceId::new(), false)).await;
    let read = || async { f.ours.get_server(&server.id).await.unwrap().unwrap() };
    let disk = read().await.disk_gb;
    assert_eq!(read().await.server_type.as_deref(), Some("cpx22"));
    f.ours.power_off(&server.id).await.unwrap();
    f.ours.change_type(&server.id, "cpx32").await.unwrap();
    let changed = read().await;
    assert_eq!(changed.server_type.as_deref(), Some("cpx32"));
    assert_eq!(changed.disk_gb, disk, "the disk is not upgraded");
    assert_eq!(
        changed.status,
        ServerStatus::Off,
        "a type change leaves it off"
    );
    f.ours
        .change_type(&server.id, "cpx32")
        .await
        .expect("changing to the type it has succeeds");
    f.ours.change_type(&server.id, "cpx22").await.unwrap();
    assert_eq!(read().await.server_type.as_deref(), Some("cpx22"));
    f.ours.delete_server(&server.id).await.unwrap();
}

/// A running server is `Conflict`; an unknown type, or one whose disk is smaller than the
/// server's, is `InvalidInput` on `server_type`; an unknown server is `NotFound`.
pub async fn change_type_refuses_what_does_not_fit(f: &ComputeFixture) {
    let mut spec = server_spec(&f.owner, InstanceId::new(), false);
    spec.server_type = "cpx32".into();
    let server = create(&f.ours, &spec).await;
    match f.ours.change_type(&server.id, "cpx42").await {
        Err(Error::Conflict { .. }) => {}
        other => panic!("a type change of a running server: expected Conflict, got {other:?}"),
    }
    f.ours.power_off(&server.id).await.unwrap();
    for (server_type, why) in [
        ("cpx22", "a smaller disk"),
        ("no-such-type", "an unknown type"),
    ] {
        match f.ours.change_type(&server.id, server_type).await {
            Err(Error::InvalidInput { field, .. }) if field == "server_type" => {}
            other => panic!("{why}: expected InvalidInput on server_type, got {other:?}"),
        }
    }
    let unchanged = f.ours.get_server(&server.id).await.unwrap().unwrap();
    assert_eq!(unchanged.server_type.as_deref(), Some("cpx32"));
    f.ours.delete_server(&server.id).await.unwrap();
    let id = gone_id(f).await;
    match f.ours.change_type(&id, "cpx42").await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("a type change of an unknown server: expected NotFound, got {other:?}"),
    }
}

/// Deleting a server that is already gone succeeds.
pub async fn delete_is_idempotent(f: &ComputeFixture) {
    let id = gone_id(f).await;
    f.ours
        .delete_server(&id)
        .await
        .expect("deleting a deleted server succeeds");
}

/// `get_server` of an unknown id is `None`.
pub async fn get_unknown_is_none(f: &ComputeFixture) {
    let id = gone_id(f).await;
    assert!(f.ours.get_server(&id).await.unwrap().is_none());
}

/// `list_owned` and `find_server` see only this deployment's servers.
pub async fn list_owned_excludes_other_owners(f: &ComputeFixture) {
    let ours = create(&f.ours, &server_spec(&f.owner, InstanceId::new(), false)).await;
    let their_instance = InstanceId::new();
    let theirs = create(
        &f.theirs,
        &server_spec(&f.their_owner, their_instance, false),
    )
    .await;
    let owned = f.ours.list_owned().await.unwrap();
    assert!(owned.iter().any(|s| s.id == ours.id));
    assert!(
        !owned.iter().any(|s| s.id == theirs.id),
        "list_owned returned another deployment's server"
    );
    assert!(owned
        .iter()
        .all(|s| s.ownership().is_some_and(|o| o.owner == f.owner)));
    let their_owned = f.theirs.list_owned().await.unwrap();
    assert!(their_owned.iter().any(|s| s.id == theirs.id));
    assert!(!their_owned.iter().any(|s| s.id == ours.id));
    assert!(
        f.ours.find_server(their_instance).await.unwrap().is_none(),
        "find_server returned another deployment's server"
    );
    f.ours.delete_server(&ours.id).await.unwrap();
    f.theirs.delete_server(&theirs.id).await.unwrap();
}

/// A server being deleted is never found, listed or adopted. Until its deletion finishes (at
/// least `deleting_for` after the delete was sent), creating its instance's server again is
/// a retryable error that creates nothing; once it has finished, the create makes a new
/// server.
pub async fn deleting_server_is_never_adopted(f: &ComputeFixture) {
    let instance = InstanceId::new();
    let spec = server_spec(&f.owner, instance, false);
    let first = create(&f.ours, &spec).await;
    let delete_sent = Instant::now();
    f.ours.delete_server(&first.id).await.unwrap();
    // An answer received before this was given while the server was still being deleted.
    let lingers_until = delete_sent + f.deleting_for;
    let deadline = lingers_until + GONE_MARGIN;
    let second = loop {
        let still = f.ours.get_server(&first.id).await.unwrap();
        if Instant::now() < lingers_until {
            assert_eq!(
                still.as_ref().map(|s| s.status),
                Some(ServerStatus::Deleting),
                "get_server of a server being deleted"
            );
        } else if let Some(still) = &still {
            assert_eq!(
                still.status,
                ServerStatus::Deleting,
                "a deleted server came back"
            );
        }
        assert!(
            f.ours.find_server(instance).await.unwrap().is_none(),
            "find_server returned a server being deleted"
        );
        let owned = f.ours.list_owned().await.unwrap();
        assert!(
            !owned.iter().any(|s| s.id == first.id),
            "list_owned returned a server being deleted"
        );
        let attempt = f.ours.create_server(&spec).await;
        let in_window = Instant::now() < lingers_until;
        match attempt {
            Ok(server) if server.id == first.id => {
                panic!("create_server adopted server {} while it was being deleted", first.id)
            }
            Ok(server) if in_window => panic!(
                "create_server made server {} while server {} still held the name",
                server.id, first.id
            ),
            Ok(server) => break server,
            Err(e) if matches!(e.class(), ErrorClass::Retryable) => {}
            Err(e) => panic!(
                "create_server while our server of that name is being deleted: expected a retryable error, got {e:?}"
            ),
        }
        assert!(
            Instant::now() < deadline,
            "server {} was still being deleted {:?} after its delete",
            first.id,
            f.deleting_for + GONE_MARGIN
        );
        tokio::time::sleep(POLL).await;
    };
    assert!(f.ours.get_server(&first.id).await.unwrap().is_none());
    let found = f.ours.find_server(instance).await.unwrap();
    assert_eq!(found.map(|s| s.id), Some(second.id.clone()));
    let of_instance = f
        .ours
        .list_owned()
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.ownership().is_some_and(|o| o.instance == instance))
        .count();
    assert_eq!(of_instance, 1, "one server for the instance, the new one");
    f.ours.delete_server(&second.id).await.unwrap();
}
