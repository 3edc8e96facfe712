//! The response-latency histogram: our answered waits per mailbox, bucketed into a snapshot
//! when the record is recomputed, and encoded from that snapshot at each scrape by a custom
//! collector. It does not compute the waits (report's numbers do) and keeps no history.

use super::label;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The upper bounds of the response-latency buckets, in seconds: 5 and 15 minutes, an hour,
/// 4 hours, a day, 3 days, a week.
pub const LATENCY_BUCKETS: [f64; 7] = [300.0, 900.0, 3600.0, 14400.0, 86400.0, 259200.0, 604800.0];

/// One mailbox's response latencies, bucketed: `buckets[i]` counts the waits in
/// (`LATENCY_BUCKETS[i - 1]`, `LATENCY_BUCKETS[i]`] (not cumulative: the encoder adds up).
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySnapshot {
    pub buckets: [u64; LATENCY_BUCKETS.len()],
    pub sum: f64,
    pub count: u64,
}

impl LatencySnapshot {
    /// Buckets `seconds`; a negative wait (clocks disagreeing) counts as 0.
    pub fn of(seconds: &[i64]) -> LatencySnapshot {
        let mut buckets = [0; LATENCY_BUCKETS.len()];
        let mut sum = 0.0;
        for &s in seconds {
            let s = s.max(0) as f64;
            sum += s;
            if let Some(i) = LATENCY_BUCKETS.iter().position(|&le| s <= le) {
                buckets[i] += 1;
            }
        }
        LatencySnapshot {
            buckets,
            sum,
            count: seconds.len() as u64,
        }
    }
}

/// The latency histogram, per mailbox, as last set: encoded at each scrape (a custom collector,
/// since a histogram that is recomputed cannot be observed into again without counting twice).
#[derive(Debug, Default)]
pub(super) struct Latencies(Mutex<BTreeMap<String, LatencySnapshot>>);

impl Latencies {
    /// The mailbox's latencies are now `snapshot`.
    pub(super) fn set(&self, mailbox: &str, snapshot: LatencySnapshot) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(mailbox.to_string(), snapshot);
    }

    pub(super) fn remove(&self, mailbox: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(mailbox);
    }
}

impl Collector for Latencies {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return Ok(());
        }
        let mut metric = encoder.encode_descriptor(
            "tend_response_latency",
            "Time from a buyer's message that opened a wait to our first answer in the thread, \
             every answered wait.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (mailbox, s) in map.iter() {
            let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS.iter().copied().zip(s.buckets).collect();
            metric
                .encode_family(&label(mailbox))?
                .encode_histogram::<NoLabelSet>(s.sum, s.count, &buckets, None)?;
        }
        Ok(())
    }
}
