//! A small log-linear latency histogram (microseconds): exact below 64 µs, then 32 buckets
//! per power of two (at most ~3 % wide), up to 2^32 µs (~71 minutes). Small enough to keep
//! one per subscriber task (about 3.7 KB, allocated on first use) and merge at the end, so
//! no lock or shared counter is touched per event.

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS; // 32
const LINEAR: u64 = 2 * SUB; // 64 exact buckets
const MAX_EXP: u32 = 32;
const BUCKETS: usize = (LINEAR + (MAX_EXP as u64 - (SUB_BITS + 1) as u64) * SUB) as usize;

#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: Vec<u32>,
    total: u64,
    max: u64,
    min: u64,
    sum: u128,
}

fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let v = v.min((1u64 << MAX_EXP) - 1);
    let e = 63 - v.leading_zeros(); // >= SUB_BITS + 1
    let m = v >> (e - SUB_BITS); // in [SUB, 2*SUB)
    (LINEAR + (e - SUB_BITS - 1) as u64 * SUB + (m - SUB)) as usize
}

/// Highest value that maps to bucket `i`.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let k = i - LINEAR;
    let e = (k / SUB) as u32 + SUB_BITS + 1;
    let m = SUB + k % SUB;
    ((m + 1) << (e - SUB_BITS)) - 1
}

impl Histogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, micros: u64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
            self.min = u64::MAX;
        }
        let c = &mut self.counts[index(micros)];
        *c = c.saturating_add(1);
        self.total += 1;
        self.sum += micros as u128;
        self.max = self.max.max(micros);
        self.min = self.min.min(micros);
    }

    pub fn merge(&mut self, other: &Histogram) {
        if other.total == 0 {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
            self.min = u64::MAX;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
        self.min = self.min.min(other.min);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn min(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            self.min
        }
    }

    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` (0..=1): the top of the bucket holding the q-th sample,
    /// capped at the largest recorded value (so it never understates a latency).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c as u64;
            if seen >= rank {
                return upper(i).min(self.max).max(self.min());
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in 0..200_000u64 {
            let i = index(v);
            assert!(i >= last, "index not monotonic at {v}");
            last = i;
        }
        for v in (0..200_000u64).chain([1 << 20, 123_456_789, (1 << 32) - 1]) {
            let i = index(v);
            assert!(i < BUCKETS);
            let up = upper(i);
            assert!(up >= v, "v={v} up={up}");
            assert!((up - v) as f64 <= v as f64 / 31.0 + 1.0, "v={v} up={up}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::new();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        assert!((p50 - 500_000.0).abs() / 500_000.0 < 0.035, "{p50}");
        let p99 = h.quantile(0.99) as f64;
        assert!((p99 - 990_000.0).abs() / 990_000.0 < 0.035, "{p99}");
        assert_eq!(h.quantile(1.0), 1_000_000);
        let mut a = Histogram::new();
        a.record(5);
        a.merge(&h);
        assert_eq!(a.count(), 1001);
        assert_eq!(a.quantile(0.0), 5);
        assert_eq!(Histogram::new().quantile(0.5), 0);
    }
}
