//! How much stack the decoder uses per level of nesting, and a check that
//! the deepest message [`MAX_DEPTH_CLAMP`] allows decodes on a 2 MiB stack
//! (the size of a tokio worker's).
//!
//! `cargo test -p pb-runtime --lib stack -- --nocapture` prints the
//! measurement (add `--release` for the release profile).

use std::cell::Cell;

use serde::{Deserialize, Deserializer};

use super::{Limits, from_bytes};
use crate::config::MAX_DEPTH_CLAMP;

thread_local! {
    /// The lowest stack address a [`Mark`] was decoded at.
    static DEEPEST: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// A byte whose decoding notes how deep in the stack it happened.
struct Mark;

impl<'de> Deserialize<'de> for Mark {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Mark, D::Error> {
        let here = 0u8;
        let at = std::hint::black_box(&here) as *const u8 as usize;
        DEEPEST.with(|c| c.set(c.get().min(at)));
        u8::deserialize(d).map(|_| Mark)
    }
}

/// One level per node (the enum; the box adds none).
#[derive(Deserialize)]
#[allow(dead_code)]
enum Chain {
    Leaf(Mark),
    Node(Box<Chain>),
}

/// Two levels per node (the enum and its sequence).
#[derive(Deserialize)]
#[allow(dead_code)]
enum Tree {
    Leaf(Mark),
    Node(Vec<Tree>),
}

/// Two levels per node (the struct and its option).
#[derive(Deserialize)]
#[allow(dead_code)]
struct List {
    next: Option<Box<List>>,
    mark: Mark,
}

/// A message of each recursive type nested at most `levels` deep, with the
/// levels it takes.
fn messages(levels: usize) -> [(&'static str, usize, Vec<u8>); 3] {
    let chain = [vec![1u8; levels - 1], vec![0, 0]].concat();
    let nodes = (levels - 1) / 2;
    let tree = [[1u8, 1].repeat(nodes), vec![0, 0]].concat();
    let list = [vec![1u8; nodes], vec![0], vec![0; nodes + 1]].concat();
    [
        ("Chain (enum, Box)", levels, chain),
        ("Tree (enum, Vec)", 2 * nodes + 1, tree),
        ("List (struct, Option<Box>)", 2 * nodes + 2, list),
    ]
}

/// Decode `bytes` as the type `name` names; the stack bytes used per level.
fn per_level(name: &str, bytes: &[u8], levels: usize) -> usize {
    DEEPEST.with(|c| c.set(usize::MAX));
    let here = 0u8;
    let top = std::hint::black_box(&here) as *const u8 as usize;
    let limits = Limits { max_depth: MAX_DEPTH_CLAMP, ..Limits::default() };
    let ok = match name.split(' ').next().unwrap() {
        "Chain" => from_bytes::<Chain>(bytes, limits).is_ok(),
        "Tree" => from_bytes::<Tree>(bytes, limits).is_ok(),
        _ => from_bytes::<List>(bytes, limits).is_ok(),
    };
    assert!(ok, "{name} nested {levels} deep decodes");
    (top - DEEPEST.with(Cell::get)) / levels
}

#[test]
fn the_deepest_message_allowed_decodes_on_a_2_mib_stack() {
    let worker = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
        for (name, levels, bytes) in messages(MAX_DEPTH_CLAMP) {
            let used = per_level(name, &bytes, levels);
            println!("{name}: {used} bytes of stack per level");
            assert!(used * MAX_DEPTH_CLAMP < 1 << 20, "{name}: {used} bytes per level");
        }
    });
    worker.unwrap().join().expect("no stack overflow");
}

#[test]
fn one_level_more_than_the_clamp_is_refused() {
    let limits = Limits { max_depth: MAX_DEPTH_CLAMP + 10, ..Limits::default() };
    let config = crate::Config { max_depth: MAX_DEPTH_CLAMP + 10, ..crate::Config::default() };
    assert_eq!(Limits::from_config(&config).max_depth, MAX_DEPTH_CLAMP);
    assert_eq!(crate::Config::default().max_depth(usize::MAX).max_depth, MAX_DEPTH_CLAMP);
    let (_, _, chain) = &messages(MAX_DEPTH_CLAMP + 1)[0];
    assert!(from_bytes::<Chain>(chain, Limits::from_config(&config)).is_err());
    assert!(from_bytes::<Chain>(chain, limits).is_ok());
}
