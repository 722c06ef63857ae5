//! pb's codec against postcard, in the same run: encode and decode of byte
//! runs (`Vec<u8>` of 64 KiB and 1 KiB), a 1 KiB `String` and a small struct.
//!
//! `cargo bench -p pb-runtime --bench codec` prints one line per case with
//! the median time per operation of each and postcard's time over pb's.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pb_runtime::wire::codec::{self, Limits};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Small {
    id: u64,
    name: String,
    flags: Vec<u16>,
    ok: bool,
    score: f64,
}

/// Median nanoseconds per call of `a` and of `b`, over rounds of ~20 ms
/// that alternate between the two (the machine is shared and its load
/// changes: alternating spreads it over both).
fn time(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    const ROUNDS: usize = 9;
    let mut n = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            a();
        }
        if t.elapsed() > Duration::from_millis(20) {
            break;
        }
        n *= 2;
    }
    let round = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_nanos() as f64 / n as f64
    };
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ta.push(round(&mut a));
        tb.push(round(&mut b));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[ROUNDS / 2]
    };
    (median(ta), median(tb))
}

fn case<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, value: &T) {
    // `cargo bench -p pb-runtime --bench codec -- NAME` runs the cases
    // whose name contains NAME.
    if let Some(only) = std::env::args().skip(1).find(|a| !a.starts_with("--"))
        && !name.contains(&only)
    {
        return;
    }
    let bytes = postcard::to_stdvec(value).unwrap();
    assert_eq!(codec::to_vec(value).unwrap(), bytes);
    assert_eq!(&codec::from_bytes::<T>(&bytes, Limits::default()).unwrap(), value);

    let (pb, pc) = time(
        || drop(black_box(codec::to_vec(black_box(value)).unwrap())),
        || drop(black_box(postcard::to_stdvec(black_box(value)).unwrap())),
    );
    report(name, "encode", bytes.len(), pb, pc);
    let (pb, pc) = time(
        || drop(black_box(codec::from_bytes::<T>(black_box(&bytes), Limits::default()).unwrap())),
        || drop(black_box(postcard::from_bytes::<T>(black_box(&bytes)).unwrap())),
    );
    report(name, "decode", bytes.len(), pb, pc);
}

fn report(name: &str, op: &str, len: usize, pb: f64, postcard: f64) {
    let mbs = |ns: f64| len as f64 / ns * 1e3;
    println!(
        "{name:<14} {op}  pb {pb:>10.1} ns ({:>8.0} MB/s)  postcard {postcard:>10.1} ns ({:>8.0} MB/s)  postcard/pb {:>6.2}x",
        mbs(pb),
        mbs(postcard),
        postcard / pb
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep it quick.
    if !std::env::args().any(|a| a == "--bench") {
        case("vec_u8_1k", &vec![7u8; 1024]);
        return;
    }
    case("vec_u8_64k", &(0..65536).map(|i| i as u8).collect::<Vec<u8>>());
    case("vec_u8_1k", &(0..1024).map(|i| i as u8).collect::<Vec<u8>>());
    case("string_1k", &"pb codec ".repeat(114)[..1024].to_string());
    case(
        "small_struct",
        &Small { id: 123_456_789, name: "alice".into(), flags: vec![1, 2, 300, 4000], ok: true, score: 0.5 },
    );
}
