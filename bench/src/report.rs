//! Results: one JSON line per target and workload (median of the rounds,
//! with every round's figures), then the ratios against the targets and
//! three tables: figures, per-call costs, and the ratio checks.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Figures of one target and workload, in one round.
pub type Figures = BTreeMap<&'static str, f64>;

/// Everything measured in a run.
#[derive(Default)]
pub struct Report {
    /// (workload, target) -> figures of each round.
    rounds: BTreeMap<(String, String), Vec<Figures>>,
    /// Extra facts printed with a workload (settings, units).
    notes: BTreeMap<String, Value>,
    /// The name of the other revision's pb target, if one ran.
    baseline: Option<String>,
}

/// What [`Report::summary`] prints.
pub struct Summary {
    /// One JSON line per ratio check.
    pub checks: Vec<String>,
    /// The main figure of each workload and target (markdown).
    pub figures: String,
    /// Context switches and CPU time per call (markdown).
    pub costs: String,
    /// The ratio checks (markdown).
    pub table: String,
    /// Whether every check counted was met.
    pub all_met: bool,
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

/// One row of the checks: a ratio (or a figure) and its bound, if it has
/// one.
struct Check {
    name: String,
    value: f64,
    /// `None`: a figure shown for context, with no bound to meet.
    bound: Option<Bound>,
    /// Shown, but not one of the targets (`all_met` ignores it); always so
    /// without a bound.
    info: bool,
}

/// What a checked value must be: at most, or at least, `limit`.
#[derive(Clone, Copy)]
struct Bound {
    limit: f64,
    at_most: bool,
}

impl Bound {
    /// Whether `value` is within the bound.
    fn met(self, value: f64) -> bool {
        if self.at_most { value <= self.limit } else { value >= self.limit }
    }
}

/// The checks of a run, in the order they are shown.
#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    /// `value` must be at most (`at_most`) or at least `bound`; an `info`
    /// check is shown but not counted.
    fn add(&mut self, name: String, value: f64, bound: f64, at_most: bool, info: bool) {
        self.0.push(Check { name, value, bound: Some(Bound { limit: bound, at_most }), info });
    }

    /// A figure shown for context only: no bound, never counted (what a
    /// checked ratio should be read against, such as the machine's own
    /// limit).
    fn context(&mut self, name: String, value: f64) {
        self.0.push(Check { name, value, bound: None, info: true });
    }
}

/// The main figure of a workload: its key, its unit, and a divisor.
fn main_figure(workload: &str) -> (&'static str, &'static str, f64) {
    match workload {
        "add_seq" | "relay" | "stream_unary" => ("p50_us", "µs p50", 1.0),
        "add_tput" => ("calls_per_s", "k calls/s", 1e3),
        _ => ("mb_per_s", "MB/s", 1.0),
    }
}

impl Report {
    /// An empty report; `baseline` names the other revision's pb target.
    pub fn new(baseline: Option<String>) -> Report {
        Report { baseline, ..Report::default() }
    }

    /// Record one round's figures of `target` on `workload`.
    pub fn add(&mut self, workload: &str, target: &str, figures: Figures) {
        self.rounds.entry((workload.into(), target.into())).or_default().push(figures);
    }

    /// Attach settings to a workload's lines.
    pub fn note(&mut self, workload: &str, note: Value) {
        self.notes.insert(workload.into(), note);
    }

    fn per_round(&self, workload: &str, target: &str, key: &str) -> Vec<f64> {
        self.rounds
            .get(&(workload.into(), target.into()))
            .map(|r| r.iter().map(|f| f.get(key).copied().unwrap_or(f64::NAN)).collect())
            .unwrap_or_default()
    }

    /// Median over rounds of `f(a, b)` of each round's figures of `key`
    /// (figures of one round were measured minutes apart at most).
    fn paired(&self, workload: &str, ta: &str, tb: &str, key: &str, f: fn(f64, f64) -> f64) -> f64 {
        let (a, b) = (self.per_round(workload, ta, key), self.per_round(workload, tb, key));
        median(&a.iter().zip(&b).map(|(x, y)| f(*x, *y)).collect::<Vec<_>>())
    }

    fn ratio(&self, workload: &str, ta: &str, tb: &str, key: &str) -> f64 {
        self.paired(workload, ta, tb, key, |a, b| a / b)
    }

    fn median_of(&self, workload: &str, target: &str, key: &str) -> f64 {
        median(&self.per_round(workload, target, key))
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
                line.insert("rounds".into(), json!(rounds.iter().map(rounded).collect::<Vec<_>>()));
                if let Some(note) = self.notes.get(workload) {
                    line.insert("settings".into(), note.clone());
                }
                Value::Object(line).to_string()
            })
            .collect()
    }

    fn checks(&self) -> Vec<Check> {
        let mut checks = Checks::default();
        let tput_key = |w: &str| main_figure(w).0;
        checks.add("add_seq p50: pb / raw".into(), self.ratio("add_seq", "pb", "raw", "p50_us"), 1.15, true, false);
        checks.add(
            "add_seq client switches/call: pb - raw".into(),
            self.paired("add_seq", "pb", "raw", "client_cs", |a, b| a - b),
            0.5,
            true,
            false,
        );
        // (workload, against, bound, counted): `tarpc` is tarpc at its
        // defaults; the postcard variant is shown for information.
        let bounds: [(&str, &str, f64, bool); 15] = [
            ("add_tput", "raw", 1.0, true),
            ("add_tput", "tarpc", 3.0, true),
            ("add_tput", "tarpc-postcard", 3.0, false),
            ("echo_64k_tput", "tarpc", 2.0, true),
            ("echo_64k_tput", "tarpc-postcard", 2.0, false),
            ("echo_64k_tput", "raw", 0.5, true),
            ("echo_1k_tput", "tarpc", 1.5, true),
            ("echo_1k_tput", "tarpc-postcard", 1.5, false),
            ("echo_1k_tput", "raw", 0.7, true),
            ("str_1k_tput", "tarpc", 1.5, true),
            ("str_1k_tput", "tarpc-postcard", 1.5, false),
            ("str_1k_tput", "raw", 0.7, true),
            ("echo_64k_blob_tput", "raw", 1.0, true),
            ("echo_1k_blob_tput", "raw", 0.85, true),
            ("echo_64k_blob_tput", "tarpc", 2.0, false),
        ];
        for (w, against, bound, counted) in bounds {
            checks.add(
                format!("{w}: pb / {against}"),
                self.ratio(w, "pb", against, tput_key(w)),
                bound,
                false,
                !counted,
            );
        }
        checks.add(
            "relay p50: relay / direct".into(),
            self.ratio("relay", "pb-relay", "pb-direct", "p50_us"),
            2.2,
            true,
            false,
        );
        // A resumable session keeps each frame until acknowledged: its cost
        // against a plain connection.
        checks.add(
            "add_seq p50: pb-session / pb".into(),
            self.ratio("add_seq", "pb-session", "pb", "p50_us"),
            1.05,
            true,
            false,
        );
        for w in ["add_tput", "echo_64k_tput"] {
            checks.add(
                format!("{w}: pb-session / pb"),
                self.ratio(w, "pb-session", "pb", tput_key(w)),
                0.95,
                false,
                false,
            );
        }
        // Streams against a raw TCP stream of the same items, and through a relay.
        for (w, bound) in [("stream_64k", 0.9), ("stream_1k", 0.7)] {
            checks.add(format!("{w}: pb / raw"), self.ratio(w, "pb", "raw", "mb_per_s"), bound, false, false);
            checks.add(format!("{w}: pb-relay / pb"), self.ratio(w, "pb-relay", "pb", "mb_per_s"), 0.8, false, false);
            // The machine's own limit for a byte stream through a third
            // process, and pb's relay against that hand-written relay.
            checks.context(format!("{w}: raw-relay / raw"), self.ratio(w, "raw-relay", "raw", "mb_per_s"));
            checks.context(format!("{w}: pb-relay / raw-relay"), self.ratio(w, "pb-relay", "raw-relay", "mb_per_s"));
        }
        checks.add(
            "stream_unary p99 - add_seq p99 (µs)".into(),
            self.median_of("stream_unary", "pb", "p99_us") - self.median_of("add_seq", "pb", "p99_us"),
            1000.0,
            true,
            false,
        );
        let heal = |key| self.median_of("heal", "pb", key);
        checks.add("heal max - backoff (ms)".into(), heal("max_ms") - heal("backoff_ms"), 5.0, true, false);
        let resume = |key| self.median_of("resume", "pb", key);
        checks.add("resume max - backoff (ms)".into(), resume("max_ms") - resume("backoff_ms"), 5.0, true, false);
        let mem = |key| self.median_of("memory", "pb", key);
        checks.add(
            "memory: bytes / idle connection, client".into(),
            mem("client_bytes_per_conn"),
            65536.0,
            true,
            false,
        );
        checks.add(
            "memory: bytes / idle connection, server".into(),
            mem("server_bytes_per_conn"),
            65536.0,
            true,
            false,
        );
        checks.add("memory: bytes / live proxy".into(), mem("client_bytes_per_proxy"), 256.0, true, false);
        if let Some(base) = &self.baseline {
            // No workload more than 5% slower than the other revision's pb.
            checks.add(
                format!("add_seq p50: pb / {base}"),
                self.ratio("add_seq", "pb", base, "p50_us"),
                1.05,
                true,
                false,
            );
            for w in crate::driver::TPUT.map(|t| t.0) {
                checks.add(format!("{w}: pb / {base}"), self.ratio(w, "pb", base, tput_key(w)), 0.95, false, false);
            }
            let relayed = format!("{base}-relay");
            checks.add(
                format!("relay p50: pb-relay / {relayed}"),
                self.ratio("relay", "pb-relay", &relayed, "p50_us"),
                1.05,
                true,
                false,
            );
        }
        checks.0.into_iter().filter(|c| !c.value.is_nan()).collect()
    }

    /// The ratio checks (JSON lines and a table) and the tables of figures.
    pub fn summary(&self) -> Summary {
        let checks = self.checks();
        let mut all_met = true;
        let mut table = String::from("| check | measured | bound | met |\n| --- | ---: | ---: | --- |\n");
        let lines = checks
            .iter()
            .map(|c| {
                let Some(bound) = c.bound else {
                    table += &format!("| {} | {:.3} | - | info |\n", c.name, c.value);
                    return json!({"check": c.name, "value": round3(c.value), "bound": null, "met": null,
                                  "counted": false})
                    .to_string();
                };
                let met = bound.met(c.value);
                all_met &= met || c.info;
                let op = if bound.at_most { "<=" } else { ">=" };
                let verdict = match (met, c.info) {
                    (true, false) => "yes",
                    (false, false) => "NO",
                    (true, true) => "(info) yes",
                    (false, true) => "(info) no",
                };
                table += &format!("| {} | {:.3} | {op} {} | {verdict} |\n", c.name, c.value, bound.limit);
                json!({"check": c.name, "value": round3(c.value), "bound": format!("{op} {}", bound.limit), "met": met,
                       "counted": !c.info})
                .to_string()
            })
            .collect();
        Summary { checks: lines, figures: self.figures_table(), costs: self.costs_table(), table, all_met }
    }

    fn workloads(&self) -> Vec<&str> {
        let mut w: Vec<&str> = Vec::new();
        for (workload, _) in self.rounds.keys() {
            if !w.contains(&workload.as_str()) {
                w.push(workload);
            }
        }
        w
    }

    fn targets_of(&self, workload: &str) -> Vec<&str> {
        let mut t: Vec<&str> = self.rounds.keys().filter(|(w, _)| w == workload).map(|(_, t)| t.as_str()).collect();
        t.sort_by_key(|t| target_order(t));
        t
    }

    /// The main figure of every workload and target, median of the rounds;
    /// relay's cells are "direct -> relayed" under each pb.
    fn figures_table(&self) -> String {
        let mut columns: Vec<&str> = Vec::new();
        for (w, t) in self.rounds.keys() {
            if !matches!(w.as_str(), "relay" | "heal" | "resume" | "memory") && !columns.contains(&t.as_str()) {
                columns.push(t);
            }
        }
        columns.sort_by_key(|t| target_order(t));
        let mut out = format!(
            "| workload | unit | {} |\n| --- | --- |{}\n",
            columns.join(" | "),
            " ---: |".repeat(columns.len())
        );
        for w in self.workloads().into_iter().filter(|w| !matches!(*w, "heal" | "resume" | "memory")) {
            let (key, unit, div) = main_figure(w);
            let cell = |t: &str| {
                let v = if w == "relay" {
                    let (d, r) = (format!("{t}-direct"), format!("{t}-relay"));
                    let (d, r) = (self.median_of(w, &d, key), self.median_of(w, &r, key));
                    if d.is_nan() { String::new() } else { format!("{d:.1} -> {r:.1}") }
                } else {
                    let v = self.median_of(w, t, key) / div;
                    if v.is_nan() { String::new() } else { format!("{v:.1}") }
                };
                format!(" {v} |")
            };
            out += &format!("| {w} | {unit} |{}\n", columns.iter().map(|t| cell(t)).collect::<String>());
        }
        out
    }

    /// Context switches and CPU time per call, client and server side, and
    /// against raw's on the same workload: the client's extra switches per
    /// call, and the CPU time of both sides together as a ratio (each
    /// round's, then the median).
    fn costs_table(&self) -> String {
        let mut out = String::from(
            "| workload | target | client cs/call | client CPU µs/call | server cs/call | server CPU µs/call \
             | client cs - raw's | CPU (both sides) / raw's |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for w in self.workloads() {
            for t in self.targets_of(w) {
                let f = |key| self.median_of(w, t, key);
                if f("client_cs").is_nan() {
                    continue;
                }
                let extra_cs = self.paired(w, t, "raw", "client_cs", |a, b| a - b);
                let cpu = |t: &str| {
                    let (c, s) = (self.per_round(w, t, "client_cpu_us"), self.per_round(w, t, "server_cpu_us"));
                    c.iter().zip(&s).map(|(c, s)| c + s).collect::<Vec<f64>>()
                };
                let cpu_ratio = median(&cpu(t).iter().zip(&cpu("raw")).map(|(a, b)| a / b).collect::<Vec<_>>());
                let opt = |v: f64, digits: usize| if v.is_nan() { String::new() } else { format!("{v:.digits$}") };
                out += &format!(
                    "| {w} | {t} | {:.3} | {:.2} | {:.3} | {:.2} | {} | {} |\n",
                    f("client_cs"),
                    f("client_cpu_us"),
                    f("server_cs"),
                    f("server_cpu_us"),
                    opt(extra_cs, 3),
                    opt(cpu_ratio, 2),
                );
            }
        }
        out
    }
}

/// Where a target's column and rows go: raw and its relay, then tarpc,
/// then pb's (by name).
fn target_order(target: &str) -> (usize, String) {
    let first = ["raw", "raw-relay", "tarpc", "tarpc-postcard"];
    (first.iter().position(|x| *x == target).unwrap_or(first.len()), target.to_string())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn rounded(f: &Figures) -> BTreeMap<&'static str, f64> {
    f.iter().map(|(k, v)| (*k, round3(*v))).collect()
}
