//! Lookup times for `sticky show status`: a lock-free log-scale histogram
//! (about 9 % resolution from 1 µs to ~70 s), read as p50 / p99.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const BUCKETS: usize = 200;
/// Each bucket is 2^(1/8) wider than the one before it.
const STEPS_PER_DOUBLING: f64 = 8.0;

/// The p50 and p99 of a [`Latency`] (`None` before the first time).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quantiles {
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
}

pub struct Latency {
    counts: [AtomicU64; BUCKETS],
    /// Every time recorded, added up (ns), for a histogram's `_sum`.
    sum_nanos: AtomicU64,
}

impl Default for Latency {
    fn default() -> Latency {
        Latency { counts: std::array::from_fn(|_| AtomicU64::new(0)), sum_nanos: AtomicU64::new(0) }
    }
}

/// A [`Latency`] as cumulative buckets at powers of two of a microsecond
/// (exact: they fall on bucket bounds), for a Prometheus histogram.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// (upper bound in seconds, times at or under it), ascending.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

fn bucket_of(micros: f64) -> usize {
    if micros <= 1.0 {
        return 0;
    }
    ((micros.log2() * STEPS_PER_DOUBLING).ceil() as usize).min(BUCKETS - 1)
}

fn upper_bound(bucket: usize) -> Duration {
    Duration::from_secs_f64((bucket as f64 / STEPS_PER_DOUBLING).exp2() / 1e6)
}

impl Latency {
    pub fn record(&self, elapsed: Duration) {
        self.counts[bucket_of(elapsed.as_secs_f64() * 1e6)].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(elapsed.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }

    /// How many times were recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Cumulative counts at 1, 2, 4 … 2^`doublings` µs (2^20 µs ≈ 1.05 s).
    pub fn histogram(&self, doublings: usize) -> Histogram {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let mut buckets = Vec::with_capacity(doublings + 1);
        let mut seen = 0;
        let mut next = 0;
        for k in 0..=doublings {
            let last = (k * STEPS_PER_DOUBLING as usize).min(BUCKETS - 1);
            while next <= last {
                seen += counts[next];
                next += 1;
            }
            buckets.push(((k as f64).exp2() / 1e6, seen));
        }
        let count = seen + counts[next.min(BUCKETS)..].iter().sum::<u64>();
        Histogram { buckets, count, sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9 }
    }

    /// The p50 and the p99.
    pub fn p50_p99(&self) -> Quantiles {
        Quantiles { p50: self.quantile(0.5), p99: self.quantile(0.99) }
    }

    /// The upper bound of the bucket holding the `quantile`-th lookup.
    pub fn quantile(&self, quantile: f64) -> Option<Duration> {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * quantile).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(upper_bound(bucket));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_within_the_bucket_resolution() {
        let latency = Latency::default();
        assert_eq!(latency.quantile(0.5), None);
        for _ in 0..98 {
            latency.record(Duration::from_micros(20));
        }
        latency.record(Duration::from_millis(3));
        latency.record(Duration::from_millis(250));
        let p50 = latency.quantile(0.5).unwrap().as_secs_f64() * 1e6;
        assert!((20.0..22.0).contains(&p50), "{p50}");
        let p99 = latency.quantile(0.99).unwrap().as_secs_f64() * 1e3;
        assert!((3.0..3.3).contains(&p99), "{p99}");
        let max = latency.quantile(1.0).unwrap().as_secs_f64() * 1e3;
        assert!((250.0..275.0).contains(&max), "{max}");
    }

    #[test]
    fn histogram_buckets_at_powers_of_two_are_exact() {
        let latency = Latency::default();
        latency.record(Duration::from_nanos(500));
        latency.record(Duration::from_micros(2));
        latency.record(Duration::from_micros(3));
        latency.record(Duration::from_secs(5));
        let histogram = latency.histogram(20);
        assert_eq!(histogram.buckets.len(), 21);
        assert_eq!(histogram.buckets[0], (1e-6, 1));
        assert_eq!(histogram.buckets[1], (2e-6, 2), "2 us is at or under 2 us");
        assert_eq!(histogram.buckets[2], (4e-6, 3));
        assert_eq!(histogram.buckets[20].1, 3, "5 s is past the last bound");
        assert_eq!(histogram.count, 4);
        assert!((histogram.sum_seconds - 5.0000055).abs() < 1e-9, "{}", histogram.sum_seconds);
    }
}
