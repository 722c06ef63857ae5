//! Reconnect backoff (temporary minimal version; replaced by the tested
//! implementation from the `support` branch).

use std::time::Duration;

/// Backoff settings.
#[derive(Debug, Clone)]
pub struct BackoffConfig {
    /// First delay.
    pub initial: Duration,
    /// Growth factor.
    pub multiplier: f64,
    /// Relative jitter.
    pub jitter: f64,
    /// Largest delay before jitter.
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig { initial: Duration::from_secs(1), multiplier: 1.6, jitter: 0.2, max: Duration::from_secs(120) }
    }
}

/// Backoff state.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    current: Duration,
}

impl Backoff {
    /// A new schedule.
    pub fn new(config: BackoffConfig) -> Self {
        Backoff { current: config.initial, config }
    }
    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.current;
        self.current = self.current.mul_f64(self.config.multiplier).min(self.config.max);
        d
    }
    /// Back to the initial delay.
    pub fn reset(&mut self) {
        self.current = self.config.initial;
    }
}
