//! The nesting-depth warning counts levels as the runtime does: the value the
//! checker says is one level too deep is the first one the runtime refuses.

use serde::{Deserialize, Serialize};

/// `Level1 { value }`, then `LevelN { below: Option<LevelN-1> }`, as the
/// generator writes the schema below.
macro_rules! chain {
    ($first:ident $(, $prev:ident => $next:ident)*) => {
        #[derive(Serialize, Deserialize)]
        struct $first { value: u64 }
        impl $first { fn full() -> Self { $first { value: 7 } } }
        $(
            #[derive(Serialize, Deserialize)]
            struct $next { below: Option<$prev> }
            impl $next { fn full() -> Self { $next { below: Some($prev::full()) } } }
        )*
    };
}

chain!(L1, L1 => L2, L2 => L3, L3 => L4, L4 => L5, L5 => L6, L6 => L7, L7 => L8, L8 => L9, L9 => L10,
    L10 => L11, L11 => L12, L12 => L13, L13 => L14, L14 => L15, L15 => L16, L16 => L17, L17 => L18,
    L18 => L19, L19 => L20, L20 => L21, L21 => L22, L22 => L23, L23 => L24, L24 => L25, L25 => L26,
    L26 => L27, L27 => L28, L28 => L29, L29 => L30, L30 => L31, L31 => L32, L32 => L33);

fn schema(levels: usize) -> String {
    let mut s = String::from("package deep;\nrecord L1 { value: u64 }\n");
    for i in 2..=levels {
        s.push_str(&format!("record L{i} {{ below: option<L{}> }}\n", i - 1));
    }
    s
}

fn decodes<T: Serialize + serde::de::DeserializeOwned>(value: &T) -> bool {
    let bytes = postcard::to_allocvec(value).unwrap();
    pb::wire::decode_payload_limited::<T>(&bytes, 64).is_ok()
}

#[test]
fn the_first_declaration_warned_about_is_the_first_the_runtime_refuses() {
    assert!(decodes(&L32::full()), "63 levels decode");
    assert!(!decodes(&L33::full()), "65 levels do not");

    let ok = pb_idl::check_str("deep.pbidl", &schema(32));
    assert!(ok.diagnostics.is_empty(), "{}", ok.render());

    let deep = pb_idl::check_str("deep.pbidl", &schema(40));
    assert!(!deep.has_errors(), "{}", deep.render());
    let [warning] = &deep.diagnostics[..] else { panic!("one warning: {}", deep.render()) };
    assert_eq!(warning.kind.code(), "nesting-depth");
    assert!(warning.message.contains("`L33` nests 65 levels"), "{}", warning.message);
    assert!(warning.label.contains("`L33` -> `L32`") && warning.label.contains("`L1`"), "{}", warning.label);
    assert!(warning.label.contains("7 declarations holding it"), "{}", warning.label);
}

#[test]
fn arguments_count_their_tuple() {
    // `list<L31>` is 62 levels, in the argument tuple 63: fine. `list<L32>` is one too many.
    let text = format!("{}interface I {{ a(x: list<L31>); b(x: list<L32>); }}\n", schema(32));
    let checked = pb_idl::check_str("deep.pbidl", &text);
    let [warning] = &checked.diagnostics[..] else { panic!("one warning: {}", checked.render()) };
    assert!(warning.message.contains("argument `x` of `b` nests 65 levels"), "{}", warning.message);
    assert!(decodes(&(vec![L31::full()],)));
    assert!(!decodes(&(vec![L32::full()],)));
}

#[test]
fn long_declaration_chains_do_not_overflow_the_stack() {
    let checked = pb_idl::check_str("deep.pbidl", &schema(20_000));
    assert!(!checked.has_errors());
    assert_eq!(checked.diagnostics.len(), 1, "only the first declaration over the limit");
}

#[derive(Serialize, Deserialize)]
enum E {
    A(L32),
    B { bytes: Vec<u8> },
}

#[derive(Serialize, Deserialize)]
struct W {
    e: E,
}

#[test]
fn enums_count_one_level_and_their_variants_none() {
    // `E` is 1 + 63 = 64 levels: decodes; `W` holding it is 65: refused.
    assert!(decodes(&E::A(L32::full())));
    assert!(!decodes(&W { e: E::A(L32::full()) }));
    assert!(decodes(&W { e: E::B { bytes: vec![1] } }));
    let text = format!("{}enum E {{ A(L32), B {{ bytes: bytes }} }}\nrecord W {{ e: E }}\n", schema(32));
    let checked = pb_idl::check_str("deep.pbidl", &text);
    let [warning] = &checked.diagnostics[..] else { panic!("one warning: {}", checked.render()) };
    assert!(warning.message.contains("`W` nests 65 levels"), "{}", warning.message);
}

/// What a pull answers, as `pb-runtime/src/services/stream/source.rs` sends it.
#[derive(Serialize, Deserialize)]
struct Batch<T> {
    items: Vec<T>,
    end: Option<Result<(), pb::Error>>,
}

fn pulled<T>(item: T) -> Result<Batch<T>, pb::Error> {
    Ok(Batch { items: vec![item], end: None })
}

#[test]
fn stream_items_count_the_reply_to_a_pull() {
    // An item of 61 levels is 64 in the reply: fine; one of 62 is one too many.
    assert!(decodes(&pulled(L31::full())));
    assert!(!decodes(&pulled(Some(L31::full()))));
    // The stream itself is one level where it is sent, whatever its items.
    let text = format!(
        "{}interface I {{ a() -> stream<L31>; b(x: stream<option<L31>>); c() -> stream<stream<L31>>; }}\nrecord S {{ s: stream<L32> }}\n",
        schema(32)
    );
    let checked = pb_idl::check_str("deep.pbidl", &text);
    let messages: Vec<&str> = checked.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "a fully filled item of `stream<option<deep.L31>>` nests 65 levels deep, deeper than peers decode by default (64)",
            "a fully filled item of `stream<deep.L32>` nests 66 levels deep, deeper than peers decode by default (64)",
        ],
        "{}",
        checked.render()
    );
}

#[test]
fn sender_items_count_the_reply_to_a_pull_as_stream_items_do() {
    // A sender's items come back in a stream its receiver attaches: the
    // same replies to pulls, so the same limit. The sender itself is one
    // level where it is sent.
    let text = format!(
        "{}interface I {{ a(to: sender<L31>); b() -> sender<option<L31>>; c(to: sender<stream<L31>>); d(to: stream<sender<option<L31>>>); }}\nrecord S {{ s: sender<L32> }}\n",
        schema(32)
    );
    let checked = pb_idl::check_str("deep.pbidl", &text);
    let messages: Vec<&str> = checked.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "a fully filled item of `sender<option<deep.L31>>` nests 65 levels deep, deeper than peers decode by default (64)",
            "a fully filled item of `sender<option<deep.L31>>` nests 65 levels deep, deeper than peers decode by default (64)",
            "a fully filled item of `sender<deep.L32>` nests 66 levels deep, deeper than peers decode by default (64)",
        ],
        "{}",
        checked.render()
    );
}
