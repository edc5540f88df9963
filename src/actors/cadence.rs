//! When an actor writes a snapshot of its state: every `every` events, and at graceful
//! shutdown.
//!
//! A fixed cadence is right because no state grows with its stream's history: a store's
//! is bounded by the catalog and its open restocks (its sales are on disk), a product's
//! is one line, the chain's is the catalog. So a snapshot costs the same at the millionth
//! sale as at the first, and recovery replays at most `every` events after it. (The
//! cadence stretched with the history while a store held its sales: ADR 0013, superseded
//! by ADR 0018.)

#[derive(Debug, Clone, Copy)]
pub(super) struct SnapshotCadence {
    every: u64,
    since: u64,
}

impl SnapshotCadence {
    pub(super) fn new(every: u64) -> Self {
        Self {
            every: every.max(1),
            since: 0,
        }
    }

    /// Counts `events` just applied; true when a snapshot of the state after them is due
    /// (and counts from it).
    pub(super) fn due(&mut self, events: u64) -> bool {
        self.since += events;
        let due = self.since >= self.every;
        if due {
            self.since = 0;
        }
        due
    }

    /// After recovery: `events` already follow the latest snapshot (after a crash, or a
    /// snapshot passed over), so the next one is due that much sooner.
    pub(super) fn resume(&mut self, events: u64) {
        self.since = events;
    }

    /// A snapshot was written outside the cadence (at shutdown).
    pub(super) fn taken(&mut self) {
        self.since = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshots_up_to(last: u64, every: u64) -> Vec<u64> {
        let mut cadence = SnapshotCadence::new(every);
        (1..=last).filter(|_| cadence.due(1)).collect()
    }

    #[test]
    fn a_stream_is_snapshotted_every_n_events_however_long_it_is() {
        assert_eq!(snapshots_up_to(3500, 1000), vec![1000, 2000, 3000]);
        let taken = snapshots_up_to(1_000_000, 1000);
        assert_eq!(taken.len(), 1000);
        assert!(taken.windows(2).all(|pair| pair[1] - pair[0] == 1000));
    }

    #[test]
    fn a_recovered_stream_counts_the_events_after_its_snapshot() {
        let mut cadence = SnapshotCadence::new(1000);
        cadence.resume(900);
        assert!(!cadence.due(99));
        assert!(cadence.due(1));
    }

    #[test]
    fn a_batch_counts_all_its_events() {
        let mut cadence = SnapshotCadence::new(10);
        assert!(!cadence.due(9));
        assert!(cadence.due(5));
        assert!(!cadence.due(1));
    }
}
