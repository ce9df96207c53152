//! A cache of instances in front of `get_instance`.
//!
//! # Why
//! Every sqlx query on SQLite travels to the connection's own thread and back, about 70 µs of
//! CPU on a small machine, which caps `GET /v1/instances/{id}` far below what the HTTP layer
//! can serve. Reads of one instance are by far the most frequent query (the API, every step
//! of every job), and this store is the single-node default, where one process makes all
//! the writes. So this process remembers the instances it has read or written.
//!
//! # Why it stays right
//! - Every write of an instance through this store marks the instance as being written
//!   before its transaction starts, and replaces or drops its entry after the commit. While
//!   it is marked, reads go to the file and do not fill the cache, so this process reads its
//!   own writes at once — also a worker woken by the job a write just committed, before the
//!   writer got to update the entry.
//! - A read that raced a write must not put the older row back: a read fills the cache only
//!   if no write of this store happened between its start and its end (a generation count
//!   taken under the same lock as the fill).
//! - Another process writing the same file (a second server, an operator's tool) is seen
//!   within `ttl`, and sooner whenever this process's compare-and-swap finds a newer version
//!   (a conflict drops the entry, so the caller's re-read goes to the file).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use openclaw_core::domain::{Instance, InstanceId};

/// More entries than this and the cache starts over (instances are a few hundred bytes each).
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
pub(crate) struct InstanceCache {
    ttl: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Bumped by every write of this store.
    generation: u64,
    /// Instances with a write of this store in flight, and how many.
    writing: HashMap<InstanceId, u32>,
    entries: HashMap<InstanceId, (Instance, Instant)>,
}

/// Where a read started, for [`InstanceCache::fill`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadStart(u64);

impl InstanceCache {
    /// A cache whose entries live `ttl`; a zero `ttl` turns it off.
    pub(crate) fn new(ttl: Duration) -> Self {
        InstanceCache {
            ttl,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change under the lock is a few assignments that cannot panic half-way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached instance, if there is a fresh entry.
    pub(crate) fn get(&self, id: InstanceId) -> Option<Instance> {
        if self.ttl.is_zero() {
            return None;
        }
        let state = self.lock();
        if state.writing.contains_key(&id) {
            return None;
        }
        let (instance, at) = state.entries.get(&id)?;
        (at.elapsed() < self.ttl).then(|| instance.clone())
    }

    /// Call before reading the file; pass the result to [`fill`](Self::fill).
    pub(crate) fn read_start(&self) -> ReadStart {
        ReadStart(self.lock().generation)
    }

    /// Remembers what a read found, unless a write of this store happened since `start`.
    pub(crate) fn fill(&self, start: ReadStart, instance: &Instance) {
        if self.ttl.is_zero() {
            return;
        }
        let mut state = self.lock();
        if state.generation == start.0 && !state.writing.contains_key(&instance.id) {
            Self::put(&mut state, instance);
        }
    }

    /// Before a write of `id` starts; every call is followed by one [`wrote`](Self::wrote)
    /// or [`forget`](Self::forget) of the same id once the write is over. (A write whose
    /// future is dropped half-way leaves its mark: that instance is then always read from the
    /// file — slower, never stale.)
    pub(crate) fn begin_write(&self, id: InstanceId) {
        let mut state = self.lock();
        state.generation += 1;
        *state.writing.entry(id).or_insert(0) += 1;
    }

    fn end_write(state: &mut State, id: InstanceId) {
        if let Some(n) = state.writing.get_mut(&id) {
            *n -= 1;
            if *n == 0 {
                state.writing.remove(&id);
            }
        }
    }

    /// After a committed write: the instance as stored.
    pub(crate) fn wrote(&self, instance: &Instance) {
        let mut state = self.lock();
        state.generation += 1;
        Self::end_write(&mut state, instance.id);
        if !self.ttl.is_zero() {
            Self::put(&mut state, instance);
        }
    }

    /// After a delete, or a write that failed or found a newer version: read the file next
    /// time.
    pub(crate) fn forget(&self, id: InstanceId) {
        let mut state = self.lock();
        state.generation += 1;
        Self::end_write(&mut state, id);
        state.entries.remove(&id);
    }

    fn put(state: &mut State, instance: &Instance) {
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        state
            .entries
            .insert(instance.id, (instance.clone(), Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use openclaw_core::domain::{Catalog, CreateInstance};

    use super::*;

    fn instance(version: u64) -> Instance {
        let request = CreateInstance {
            customer_id: "c".into(),
            subdomain: "cached".into(),
            plan: "starter".into(),
            region: "eu-west".into(),
            ..Default::default()
        }
        .validate(&Catalog::default())
        .unwrap();
        let mut i = Instance::new(
            InstanceId::from_uuid(uuid::Uuid::nil()),
            request,
            "z.test",
            Utc::now(),
        );
        i.version = version;
        i
    }

    #[test]
    fn a_read_that_raced_a_write_does_not_put_the_old_row_back() {
        let cache = InstanceCache::new(Duration::from_secs(60));
        let start = cache.read_start();
        cache.wrote(&instance(2));
        cache.fill(start, &instance(1));
        assert_eq!(cache.get(instance(1).id).unwrap().version, 2);
        let start = cache.read_start();
        cache.forget(instance(1).id);
        cache.fill(start, &instance(1));
        assert!(cache.get(instance(1).id).is_none());
    }

    #[test]
    fn an_instance_being_written_is_read_from_the_file() {
        let cache = InstanceCache::new(Duration::from_secs(60));
        let id = instance(1).id;
        cache.wrote(&instance(1));
        // The write's transaction runs (and commits, and wakes a worker) before `wrote`:
        // meanwhile the old entry must not be served, nor a read of the file cached.
        cache.begin_write(id);
        assert!(cache.get(id).is_none());
        let start = cache.read_start();
        cache.fill(start, &instance(1));
        assert!(cache.get(id).is_none());
        // Two writes in flight: the first one's end does not open the cache yet.
        cache.begin_write(id);
        cache.wrote(&instance(2));
        assert!(cache.get(id).is_none());
        cache.wrote(&instance(3));
        assert_eq!(cache.get(id).unwrap().version, 3);
        // A failed write ends its mark too.
        cache.begin_write(id);
        cache.forget(id);
        let start = cache.read_start();
        cache.fill(start, &instance(3));
        assert_eq!(cache.get(id).unwrap().version, 3);
    }

    #[test]
    fn entries_expire_and_a_zero_ttl_caches_nothing() {
        let cache = InstanceCache::new(Duration::from_millis(20));
        cache.wrote(&instance(3));
        assert!(cache.get(instance(3).id).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(cache.get(instance(3).id).is_none());
        let off = InstanceCache::new(Duration::ZERO);
        off.wrote(&instance(3));
        let start = off.read_start();
        off.fill(start, &instance(3));
        assert!(off.get(instance(3).id).is_none());
    }
}
