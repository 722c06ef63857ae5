//! Results: one JSON line per target and workload (median of the rounds,
//! with every round's figures), then the ratios against the targets.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Figures of one target and workload, in one round.
pub type Figures = BTreeMap<&'static str, f64>;

/// Everything measured in a run.
#[derive(Default)]
pub struct Report {
    /// (workload, target) -> figures of each round.
    rounds: BTreeMap<(&'static str, &'static str), Vec<Figures>>,
    /// Extra facts printed with a workload (settings, units).
    notes: BTreeMap<&'static str, Value>,
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

/// One target to check: a ratio (or a figure) and its bound.
struct Check {
    name: &'static str,
    value: f64,
    bound: f64,
    at_most: bool,
}

impl Report {
    /// Record one round's figures of `target` on `workload`.
    pub fn add(&mut self, workload: &'static str, target: &'static str, figures: Figures) {
        self.rounds.entry((workload, target)).or_default().push(figures);
    }

    /// Attach settings to a workload's lines.
    pub fn note(&mut self, workload: &'static str, note: Value) {
        self.notes.insert(workload, note);
    }

    fn per_round(&self, workload: &'static str, target: &'static str, key: &str) -> Vec<f64> {
        self.rounds
            .get(&(workload, target))
            .map(|r| r.iter().map(|f| f.get(key).copied().unwrap_or(f64::NAN)).collect())
            .unwrap_or_default()
    }

    /// Median over rounds of `a/b` (each round's ratio, then the median:
    /// figures of one round were measured minutes apart at most).
    fn ratio(&self, wa: &'static str, ta: &'static str, wb: &'static str, tb: &'static str, key: &str) -> f64 {
        let (a, b) = (self.per_round(wa, ta, key), self.per_round(wb, tb, key));
        median(&a.iter().zip(&b).map(|(x, y)| x / y).collect::<Vec<_>>())
    }

    /// The JSON lines of every target and workload.
    pub fn lines(&self) -> Vec<String> {
        self.rounds
            .iter()
            .map(|((workload, target), rounds)| {
                let mut line = serde_json::Map::new();
                line.insert("target".into(), json!(target));
                line.insert("workload".into(), json!(workload));
                for key in rounds[0].keys() {
                    let values: Vec<f64> = rounds.iter().map(|f| f.get(key).copied().unwrap_or(f64::NAN)).collect();
                    line.insert((*key).into(), json!(round3(median(&values))));
                }
                line.insert("rounds".into(), json!(rounds.iter().map(|f| rounded(f)).collect::<Vec<_>>()));
                if let Some(note) = self.notes.get(workload) {
                    line.insert("settings".into(), note.clone());
                }
                Value::Object(line).to_string()
            })
            .collect()
    }

    fn checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        let mut ratio = |name, value, bound, at_most| checks.push(Check { name, value, bound, at_most });
        ratio("add_seq p50: pb / raw", self.ratio("add_seq", "pb", "add_seq", "raw", "p50_us"), 1.15, true);
        ratio("add_tput: pb / tarpc", self.ratio("add_tput", "pb", "add_tput", "tarpc", "calls_per_s"), 2.0, false);
        ratio("add_tput: pb / raw", self.ratio("add_tput", "pb", "add_tput", "raw", "calls_per_s"), 0.6, false);
        ratio(
            "echo_64k_tput: pb / tarpc",
            self.ratio("echo_64k_tput", "pb", "echo_64k_tput", "tarpc", "mb_per_s"),
            2.0,
            false,
        );
        ratio(
            "echo_64k_tput: pb / raw",
            self.ratio("echo_64k_tput", "pb", "echo_64k_tput", "raw", "mb_per_s"),
            0.7,
            false,
        );
        ratio(
            "echo_1k_tput: pb / tarpc",
            self.ratio("echo_1k_tput", "pb", "echo_1k_tput", "tarpc", "mb_per_s"),
            1.5,
            false,
        );
        ratio("relay p50: relay / direct", self.ratio("relay", "pb-relay", "relay", "pb-direct", "p50_us"), 2.2, true);
        let heal = |key| median(&self.per_round("heal", "pb", key));
        ratio("heal max - backoff (ms)", heal("max_ms") - heal("backoff_ms"), 5.0, true);
        let mem = |key| median(&self.per_round("memory", "pb", key));
        ratio("memory: bytes / idle connection, client", mem("client_bytes_per_conn"), 65536.0, true);
        ratio("memory: bytes / idle connection, server", mem("server_bytes_per_conn"), 65536.0, true);
        ratio("memory: bytes / live proxy", mem("client_bytes_per_proxy"), 256.0, true);
        checks.into_iter().filter(|c| !c.value.is_nan()).collect()
    }

    /// The ratio summary: one JSON line per target, then a table.
    pub fn summary(&self) -> (Vec<String>, String, bool) {
        let checks = self.checks();
        let mut all_met = true;
        let mut table = String::from("| target | measured | bound | met |\n| --- | ---: | ---: | --- |\n");
        let lines = checks
            .iter()
            .map(|c| {
                let met = if c.at_most { c.value <= c.bound } else { c.value >= c.bound };
                all_met &= met;
                let op = if c.at_most { "<=" } else { ">=" };
                table += &format!(
                    "| {} | {:.3} | {op} {} | {} |\n",
                    c.name,
                    c.value,
                    c.bound,
                    if met { "yes" } else { "NO" }
                );
                json!({"check": c.name, "value": round3(c.value), "bound": format!("{op} {}", c.bound), "met": met})
                    .to_string()
            })
            .collect();
        (lines, table, all_met)
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn rounded(f: &Figures) -> BTreeMap<&'static str, f64> {
    f.iter().map(|(k, v)| (*k, round3(*v))).collect()
}
