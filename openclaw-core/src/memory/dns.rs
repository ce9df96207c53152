//! An in-memory DNS zone: A/AAAA records with ownership marks, fault injection, and a
//! counter that tests assert "never two records for one name" on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::faults::{respond, FaultInjector};
use crate::clock::{Clock, SystemClock};
use crate::domain::{DeploymentName, RecordId};
use crate::error::{Error, Result};
use crate::ports::{Dns, DnsRecord, RecordSpec, RecordType};

/// TTL of records inserted by hand ([`InMemoryDns::insert_unmarked`]).
const MANUAL_TTL: u32 = 300;

/// One DNS zone held in memory.
///
/// Clones share the records and the fault injector; [`for_owner`](Self::for_owner) gives
/// another deployment's view of the same zone with faults of its own.
#[derive(Debug, Clone)]
pub struct InMemoryDns {
    owner: DeploymentName,
    faults: Arc<FaultInjector>,
    zone: Arc<Mutex<Zone>>,
}

#[derive(Debug)]
struct Zone {
    /// The zone apex, lowercase, without a trailing dot.
    apex: String,
    /// Keyed by the record's id, which sorts in creation order.
    records: BTreeMap<String, DnsRecord>,
    /// Record ids by name, so look-ups stay cheap however many records a long run leaves.
    by_name: HashMap<String, BTreeSet<String>>,
    last_id: u64,
    max_per_name: usize,
    /// Stamps each record's creation time.
    clock: Arc<dyn Clock>,
}

impl Zone {
    /// The name as the provider stores it, or `InvalidInput` when it is not in the zone.
    fn normalize(&self, name: &str) -> Result<String> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let inside = name == self.apex
            || name
                .strip_suffix(self.apex.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.'));
        if inside {
            Ok(name)
        } else {
            Err(Error::invalid(
                "name",
                format!("{name:?} is not in zone {}", self.apex),
            ))
        }
    }

    /// Every record at exactly `name` (normalized), in creation order.
    fn named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a DnsRecord> + 'a {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|id| self.records.get(id))
    }

    fn at<'a>(
        &'a self,
        name: &str,
        record_type: RecordType,
    ) -> impl Iterator<Item = &'a DnsRecord> + 'a {
        self.named(name)
            .filter(move |r| r.record_type == record_type)
    }

    fn remove(&mut self, id: &str) {
        let Some(record) = self.records.remove(id) else {
            return;
        };
        if let Some(ids) = self.by_name.get_mut(&record.name) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_name.remove(&record.name);
            }
        }
    }

    fn next_id(&mut self) -> Result<RecordId> {
        self.last_id += 1;
        // 32 hex digits, like Cloudflare's ids, and sorting by creation.
        RecordId::parse(format!("{:032x}", self.last_id))
    }

    fn insert(&mut self, record: DnsRecord) -> DnsRecord {
        let id = record.id.as_str().to_string();
        self.by_name
            .entry(record.name.clone())
            .or_default()
            .insert(id.clone());
        self.records.insert(id, record.clone());
        let same_name = self.at(&record.name, record.record_type).count();
        self.max_per_name = self.max_per_name.max(same_name);
        record
    }

    fn ensure(&mut self, spec: &RecordSpec) -> Result<Vec<DnsRecord>> {
        let name = self.normalize(&spec.name)?;
        let wanted = spec.wanted();
        // Check every type before changing anything, so a conflict on AAAA leaves no new A
        // behind.
        let mut adopted = Vec::with_capacity(wanted.len());
        for (record_type, _) in &wanted {
            let mut found = None;
            for record in self.at(&name, *record_type) {
                if !record.belongs_to(&spec.ownership) {
                    return Err(Error::conflict(format!(
                        "{record_type} record {} at {name} is not ours",
                        record.id
                    )));
                }
                found = found.or(Some(record.id.clone()));
            }
            adopted.push(found);
        }
        let mut out = Vec::with_capacity(wanted.len());
        for ((record_type, content), existing) in wanted.into_iter().zip(adopted) {
            let record = match existing.and_then(|id| self.records.get_mut(id.as_str())) {
                Some(record) => {
                    record.content = content;
                    record.ttl = spec.ttl;
                    record.proxied = spec.proxied;
                    record.clone()
                }
                None => {
                    let id = self.next_id()?;
                    let created_at = Some(self.clock.now());
                    self.insert(DnsRecord {
                        id,
                        name: name.clone(),
                        record_type,
                        content,
                        ttl: spec.ttl,
                        proxied: spec.proxied,
                        ownership: Some(spec.ownership.clone()),
                        created_at,
                    })
                }
            };
            out.push(record);
        }
        Ok(out)
    }
}

impl InMemoryDns {
    /// An empty zone `zone` (`claw.example.com`), seen by deployment `owner`.
    pub fn new(owner: DeploymentName, zone: &str) -> Self {
        InMemoryDns {
            owner,
            faults: Arc::new(FaultInjector::new()),
            zone: Arc::new(Mutex::new(Zone {
                apex: zone.trim_end_matches('.').to_ascii_lowercase(),
                records: BTreeMap::new(),
                by_name: HashMap::new(),
                last_id: 0,
                max_per_name: 0,
                clock: Arc::new(SystemClock),
            })),
        }
    }

    /// Stamps records created from now on with `clock` (shared by every view of the zone),
    /// so tests on tokio's paused clock see creation times on the engine's time line.
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.lock().clock = clock;
        self
    }

    /// Deployment `owner`'s adapter on the same zone: the same records, its own faults.
    pub fn for_owner(&self, owner: DeploymentName) -> Self {
        InMemoryDns {
            owner,
            faults: Arc::new(FaultInjector::new()),
            zone: Arc::clone(&self.zone),
        }
    }

    /// The faults injected into this adapter's calls.
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    /// Every record in the zone, whoever owns it, in creation order.
    pub fn records(&self) -> Vec<DnsRecord> {
        self.lock().records.values().cloned().collect()
    }

    /// A record created by hand, without any ownership mark (for conflict tests).
    ///
    /// # Panics
    ///
    /// When `name` is not in the zone: that is a mistake in the test calling it.
    #[allow(clippy::panic)]
    pub fn insert_unmarked(&self, name: &str, record_type: RecordType, content: &str) -> DnsRecord {
        let mut zone = self.lock();
        let inserted = zone.normalize(name).and_then(|name| {
            let id = zone.next_id()?;
            let created_at = Some(zone.clock.now());
            Ok(zone.insert(DnsRecord {
                id,
                name,
                record_type,
                content: content.to_string(),
                ttl: MANUAL_TTL,
                proxied: false,
                ownership: None,
                created_at,
            }))
        });
        match inserted {
            Ok(record) => record,
            Err(e) => panic!("insert_unmarked({name:?}): {e}"),
        }
    }

    /// The most records one (name, type) ever had at the same time.
    pub fn max_concurrent_records_per_name(&self) -> usize {
        self.lock().max_per_name
    }

    fn lock(&self) -> MutexGuard<'_, Zone> {
        // Mutations finish before the guard drops, so a poisoned zone is still consistent.
        self.zone.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ours(&self, record: &DnsRecord) -> bool {
        record
            .ownership
            .as_ref()
            .is_some_and(|o| o.owner == self.owner)
    }
}

#[async_trait]
impl Dns for InMemoryDns {
    async fn ensure_records(&self, spec: &RecordSpec) -> Result<Vec<DnsRecord>> {
        let lose = self.faults.before("ensure_records").await?;
        if spec.ownership.owner != self.owner {
            // A record marked for another deployment would be invisible to our sweep.
            return Err(Error::invalid(
                "ownership",
                format!("records of this adapter belong to {}", self.owner),
            ));
        }
        let outcome = self.lock().ensure(spec);
        respond("ensure_records", lose, outcome)
    }

    async fn find_records(&self, name: &str) -> Result<Vec<DnsRecord>> {
        let lose = self.faults.before("find_records").await?;
        let outcome = {
            let zone = self.lock();
            zone.normalize(name)
                .map(|name| zone.named(&name).cloned().collect())
        };
        respond("find_records", lose, outcome)
    }

    async fn delete_record(&self, id: &RecordId) -> Result<()> {
        let lose = self.faults.before("delete_record").await?;
        self.lock().remove(id.as_str());
        respond("delete_record", lose, Ok(()))
    }

    async fn list_owned(&self) -> Result<Vec<DnsRecord>> {
        let lose = self.faults.before("list_owned").await?;
        let owned = self
            .lock()
            .records
            .values()
            .filter(|r| self.ours(r))
            .cloned()
            .collect();
        respond("list_owned", lose, Ok(owned))
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::domain::InstanceId;
    use crate::ports::ownership::Ownership;

    fn prod() -> DeploymentName {
        DeploymentName::parse("prod").unwrap()
    }

    fn spec(name: &str, ipv6: bool) -> RecordSpec {
        RecordSpec {
            ownership: Ownership {
                owner: prod(),
                instance: InstanceId::new(),
            },
            name: name.to_string(),
            ipv4: Ipv4Addr::new(100, 64, 0, 1),
            ipv6: ipv6.then(|| "2001:db8:1::1".parse().unwrap()),
            ttl: 60,
            proxied: false,
        }
    }

    #[tokio::test]
    async fn names_outside_the_zone_are_invalid() {
        let dns = InMemoryDns::new(prod(), "claw.example.com.");
        for name in [
            "alice.example.com",
            "aliceclaw.example.com",
            "claw.example.org",
        ] {
            let err = dns.ensure_records(&spec(name, false)).await.unwrap_err();
            assert!(
                matches!(err, Error::InvalidInput { ref field, .. } if field == "name"),
                "{name}: {err:?}"
            );
            assert!(dns.find_records(name).await.is_err());
        }
        // Case and a trailing dot do not matter; the provider stores the canonical form.
        let records = dns
            .ensure_records(&spec("Alice.Claw.Example.com.", false))
            .await
            .unwrap();
        assert_eq!(records[0].name, "alice.claw.example.com");
        assert_eq!(records[0].id.as_str().len(), 32);
    }

    #[tokio::test]
    async fn a_conflict_on_aaaa_creates_no_a() {
        let dns = InMemoryDns::new(prod(), "claw.example.com");
        dns.insert_unmarked("bob.claw.example.com", RecordType::Aaaa, "2001:db8::5");
        let err = dns
            .ensure_records(&spec("bob.claw.example.com", true))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "conflict");
        assert_eq!(dns.records().len(), 1);
        assert_eq!(dns.max_concurrent_records_per_name(), 1);
    }

    #[tokio::test]
    async fn a_lost_response_still_creates_once() {
        let dns = InMemoryDns::new(prod(), "claw.example.com");
        let s = spec("carol.claw.example.com", true);
        dns.faults().lose_next_responses("ensure_records", 1);
        assert_eq!(
            dns.ensure_records(&s).await.unwrap_err().code(),
            "ambiguous"
        );
        let records = dns.ensure_records(&s).await.unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(dns.records().len(), 2);
        assert_eq!(dns.max_concurrent_records_per_name(), 1);
        assert_eq!(dns.faults().calls("ensure_records"), 2);
    }

    #[tokio::test]
    async fn specs_of_another_deployment_are_refused() {
        let dns = InMemoryDns::new(prod(), "claw.example.com");
        let staging = dns.for_owner(DeploymentName::parse("staging").unwrap());
        let s = spec("dave.claw.example.com", false);
        assert!(staging.ensure_records(&s).await.is_err());
        assert!(dns.records().is_empty());
    }
}
