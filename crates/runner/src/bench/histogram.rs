//! Latency samples, kept by `hdrhistogram`: log-scale buckets with two
//! significant digits (at most 1 % wide), so recording costs the same at
//! the millionth sample as at the first and a run's memory does not grow
//! with its length.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Significant decimal digits the buckets keep: 1 % precision is finer than
/// the noise of any latency measured over a network stack, and keeps each
/// connection's histogram to a few kilobytes.
const SIGNIFICANT_DIGITS: u8 = 2;
/// The longest sample kept as it is (an hour, in nanoseconds): longer ones
/// (never seen: a run lasts at most ten minutes) count as this long, so the
/// buckets never grow past it.
const LONGEST_NANOS: u64 = 3_600_000_000_000;

/// Latency samples of one connection, or of a whole run once merged.
#[derive(Debug, Clone, Default)]
pub struct LatencyHistogram {
    /// The buckets, created at the first sample (a connection that never
    /// completes a message costs nothing) and grown as larger samples come.
    buckets: Option<Histogram<u64>>,
    /// The largest sample, exact (nanoseconds): a bucket only knows it to
    /// within its width.
    max: u64,
}

impl LatencyHistogram {
    /// Adds one sample.
    pub fn record(&mut self, sample: Duration) {
        let nanos = u64::try_from(sample.as_nanos())
            .unwrap_or(u64::MAX)
            .min(LONGEST_NANOS);
        let Some(buckets) = self.buckets_mut() else {
            return;
        };
        // Auto-resizing buckets accept every value up to the longest.
        let _ = buckets.record(nanos);
        self.max = self.max.max(nanos);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        let Some(theirs) = &other.buckets else {
            return;
        };
        let Some(mine) = self.buckets_mut() else {
            return;
        };
        // Both sides auto-resize and stay below the longest sample.
        let _ = mine.add(theirs);
        self.max = self.max.max(other.max);
    }

    /// How many samples.
    pub fn len(&self) -> u64 {
        self.buckets.as_ref().map_or(0, Histogram::len)
    }

    /// True before the first sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sample below which a fraction `q` (0 to 1) of the samples lie, in
    /// nanoseconds (the middle of its bucket, never above the maximum); 0
    /// without samples.
    pub fn quantile(&self, q: f64) -> f64 {
        let Some(buckets) = self.buckets.as_ref().filter(|b| !b.is_empty()) else {
            return 0.0;
        };
        let value = buckets.value_at_quantile(q.clamp(0.0, 1.0));
        buckets.median_equivalent(value).min(self.max) as f64
    }

    /// The largest sample, in nanoseconds; 0 without samples.
    pub fn max(&self) -> u64 {
        self.max
    }

    fn buckets_mut(&mut self) -> Option<&mut Histogram<u64>> {
        if self.buckets.is_none() {
            // Fails only for more than five significant digits.
            self.buckets = Histogram::new(SIGNIFICANT_DIGITS).ok();
        }
        self.buckets.as_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_one_percent() {
        let mut histogram = LatencyHistogram::default();
        assert_eq!(histogram.quantile(0.5), 0.0);
        for micros in 1..=1000u64 {
            histogram.record(Duration::from_micros(micros));
        }
        let p50 = histogram.quantile(0.5) / 1e3;
        let p99 = histogram.quantile(0.99) / 1e3;
        assert!((p50 - 500.0).abs() < 5.0, "{p50}");
        assert!((p99 - 990.0).abs() < 10.0, "{p99}");
        assert_eq!(histogram.quantile(1.0), 1_000_000.0);
        assert_eq!(histogram.max(), 1_000_000);
        let mut merged = LatencyHistogram::default();
        merged.merge(&histogram);
        merged.merge(&histogram);
        assert_eq!(merged.len(), 2000);
        assert_eq!(merged.quantile(0.5), histogram.quantile(0.5));
    }

    #[test]
    fn samples_from_nothing_to_forever_are_kept() {
        let mut histogram = LatencyHistogram::default();
        histogram.record(Duration::ZERO);
        histogram.record(Duration::from_nanos(63));
        histogram.record(Duration::MAX);
        assert_eq!(histogram.len(), 3);
        assert_eq!(histogram.quantile(0.0), 0.0);
        assert_eq!(histogram.max(), LONGEST_NANOS);
        assert!(histogram.quantile(1.0) <= LONGEST_NANOS as f64);
        assert!(histogram.quantile(1.0) > 0.99 * LONGEST_NANOS as f64);
    }
}
