//! Reconnect backoff, per gRPC's connection-backoff spec.
//!
//! After a failed attempt the session waits `current * (1 ± jitter)`, then
//! grows `current` by `multiplier`, capped at `max`:
//!
//! ```text
//! attempt 1 fails -> wait ~1.0 s   (0.8 .. 1.2)
//! attempt 2 fails -> wait ~1.6 s   (1.28 .. 1.92)
//! attempt 3 fails -> wait ~2.56 s
//! ...             -> wait ~120 s   (96 .. 144), never more
//! ```
//!
//! The jitter is uniform in `[-jitter, +jitter]` around the nominal delay, as
//! in the spec (crates such as `backon` add jitter only upwards, which is why
//! this small schedule is written here). The random source is seedable
//! ([`Backoff::with_seed`]) so tests can check exact schedules.

use std::time::Duration;

/// Backoff settings. Defaults are gRPC's: 1 s initial, x1.6, ±20%, 120 s cap.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffConfig {
    /// First delay (before jitter). Default 1 s.
    pub initial: Duration,
    /// Growth factor after each failed attempt. Default 1.6.
    pub multiplier: f64,
    /// Relative jitter, in `[0, 1)`: each delay is drawn uniformly from
    /// `nominal * [1 - jitter, 1 + jitter]`. Default 0.2.
    pub jitter: f64,
    /// Largest nominal delay (before jitter). Default 120 s.
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig { initial: Duration::from_secs(1), multiplier: 1.6, jitter: 0.2, max: Duration::from_secs(120) }
    }
}

impl BackoffConfig {
    /// Set [`BackoffConfig::initial`].
    pub fn initial(mut self, d: Duration) -> Self {
        self.initial = d;
        self
    }
    /// Set [`BackoffConfig::multiplier`].
    pub fn multiplier(mut self, m: f64) -> Self {
        self.multiplier = m;
        self
    }
    /// Set [`BackoffConfig::jitter`].
    pub fn jitter(mut self, j: f64) -> Self {
        self.jitter = j;
        self
    }
    /// Set [`BackoffConfig::max`].
    pub fn max(mut self, d: Duration) -> Self {
        self.max = d;
        self
    }
}

/// A backoff schedule: call [`next_delay`](Backoff::next_delay) after each
/// failed attempt, [`reset`](Backoff::reset) after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    nominal: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    /// A schedule with a randomly seeded jitter source.
    pub fn new(config: BackoffConfig) -> Self {
        Self::with_rng(config, fastrand::Rng::new())
    }

    /// A schedule whose jitter comes from a fixed seed (for tests).
    pub fn with_seed(config: BackoffConfig, seed: u64) -> Self {
        Self::with_rng(config, fastrand::Rng::with_seed(seed))
    }

    fn with_rng(config: BackoffConfig, rng: fastrand::Rng) -> Self {
        let nominal = config.initial.min(config.max);
        Backoff { config, nominal, rng }
    }

    /// The nominal (unjittered) delay the next call will use.
    pub fn nominal(&self) -> Duration {
        self.nominal
    }

    /// The delay to wait after a failed attempt; advances the schedule.
    pub fn next_delay(&mut self) -> Duration {
        let jitter = self.config.jitter.clamp(0.0, 0.999);
        // Uniform in [-jitter, +jitter].
        let factor = 1.0 + jitter * (self.rng.f64() * 2.0 - 1.0);
        let delay = self.nominal.mul_f64(factor);
        let grown = self.nominal.mul_f64(self.config.multiplier.max(1.0));
        self.nominal = grown.min(self.config.max);
        delay
    }

    /// Back to the initial delay (after a successful connect).
    pub fn reset(&mut self) {
        self.nominal = self.config.initial.min(self.config.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_the_jitter_band_and_the_cap() {
        let config = BackoffConfig::default();
        for seed in 0..50 {
            let mut b = Backoff::with_seed(config.clone(), seed);
            let mut nominal = 1.0f64;
            for _ in 0..30 {
                let d = b.next_delay().as_secs_f64();
                assert!(d >= nominal * 0.8 - 1e-9 && d <= nominal * 1.2 + 1e-9, "{d} vs {nominal}");
                nominal = (nominal * 1.6).min(120.0);
            }
            assert!((b.nominal().as_secs_f64() - 120.0).abs() < 1e-9);
        }
    }

    #[test]
    fn same_seed_same_schedule_and_reset_starts_over() {
        let mut a = Backoff::with_seed(BackoffConfig::default(), 7);
        let mut b = Backoff::with_seed(BackoffConfig::default(), 7);
        let xs: Vec<_> = (0..10).map(|_| a.next_delay()).collect();
        let ys: Vec<_> = (0..10).map(|_| b.next_delay()).collect();
        assert_eq!(xs, ys);
        a.reset();
        assert_eq!(a.nominal(), Duration::from_secs(1));
    }

    #[test]
    fn jitter_actually_varies() {
        let mut b = Backoff::with_seed(BackoffConfig::default().multiplier(1.0), 1);
        let xs: std::collections::HashSet<_> = (0..20).map(|_| b.next_delay()).collect();
        assert!(xs.len() > 10, "jitter should spread delays: {xs:?}");
    }
}
