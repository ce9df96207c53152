//! How many event streams (SSE and WebSocket) each API key may hold open at once: a slot is
//! taken when a stream starts and given back when it ends, however it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::AppError;

/// Open streams per key, against a ceiling.
#[derive(Debug)]
pub struct StreamLimits {
    max_per_key: usize,
    open: Mutex<HashMap<String, usize>>,
}

/// One open stream of a key; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    limits: Arc<StreamLimits>,
    key: String,
}

impl StreamLimits {
    /// At most `max_per_key` open streams per key.
    pub fn new(max_per_key: usize) -> Arc<Self> {
        Arc::new(StreamLimits {
            max_per_key,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more stream of `key`, or 429 when it holds the most allowed.
    pub fn acquire(self: &Arc<Self>, key: &str) -> Result<StreamSlot, AppError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key.to_string()).or_insert(0);
        if *count >= self.max_per_key {
            return Err(AppError::TooManyStreams(self.max_per_key));
        }
        *count += 1;
        Ok(StreamSlot {
            limits: self.clone(),
            key: key.to_string(),
        })
    }

    /// Streams `key` holds open now.
    pub fn open(&self, key: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(key).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .limits
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_key_and_come_back_when_dropped() {
        let limits = StreamLimits::new(2);
        let a1 = limits.acquire("a").ok();
        let a2 = limits.acquire("a").ok();
        assert!(a1.is_some() && a2.is_some());
        assert!(matches!(
            limits.acquire("a"),
            Err(AppError::TooManyStreams(2))
        ));
        assert!(limits.acquire("b").is_ok(), "another key has its own");
        drop(a1);
        assert_eq!(limits.open("a"), 1);
        assert!(limits.acquire("a").is_ok());
    }
}
