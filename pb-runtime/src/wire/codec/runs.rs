//! Byte runs recognised by type.
//!
//! serde has no specialisation: `Vec<u8>` serializes through
//! `Serializer::collect_seq(&Vec<u8>)` and deserializes through
//! `Deserializer::deserialize_seq(VecVisitor<u8>)`, exactly as a `Vec<T>` of
//! anything does. The codec compares the generic type it is handed with the
//! byte-run types (dtolnay's `typeid`, which gives a `TypeId` to types with
//! lifetimes by ignoring them) and, on a match, handles the whole run at
//! once. On the decoding side the visitor types are private to serde, so
//! their ids are learned once, by letting `Vec<u8>` and `VecDeque<u8>`
//! deserialize from a probe that records the visitor it is handed.

use std::any::TypeId;
use std::collections::VecDeque;
use std::fmt;
use std::mem::{ManuallyDrop, size_of};
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{self, Visitor};

/// `iter` (the argument of `collect_seq`) as one or two byte slices, when
/// it is a `&Vec<u8>`, a `&[u8]` (also what `Box<[u8]>`, `Arc<[u8]>` and
/// `Cow<[u8]>` serialize as) or a `&VecDeque<u8>`.
#[inline]
pub(super) fn byte_run<'r, I>(iter: &'r I) -> Option<(&'r [u8], &'r [u8])> {
    let id = typeid::of::<I>();
    if id == typeid::of::<&Vec<u8>>() {
        // SAFETY: `I` has the type id of `&Vec<u8>`, and `typeid` ignores
        // only lifetimes, so `I` is `&'a Vec<u8>` for some lifetime `'a`.
        // `iter: &'r I` implies `'a: 'r`, so reading it as a
        // `&'r &'r Vec<u8>` only shortens the inner lifetime (references
        // are covariant): same layout, same validity, and the result is
        // used only while `iter` is borrowed.
        let v: &'r &'r Vec<u8> = unsafe { &*(iter as *const I).cast::<&'r Vec<u8>>() };
        return Some((v.as_slice(), &[]));
    }
    if id == typeid::of::<&[u8]>() {
        // SAFETY: as above, with `I` = `&'a [u8]` (a fat pointer read back
        // as the same fat pointer type).
        let v: &'r &'r [u8] = unsafe { &*(iter as *const I).cast::<&'r [u8]>() };
        return Some((v, &[]));
    }
    if id == typeid::of::<&VecDeque<u8>>() {
        // SAFETY: as above, with `I` = `&'a VecDeque<u8>`.
        let v: &'r &'r VecDeque<u8> = unsafe { &*(iter as *const I).cast::<&'r VecDeque<u8>>() };
        return Some(v.as_slices());
    }
    None
}

/// Pieces in which [`extend_run`] copies a long run.
const PIECE: usize = 2048;

/// Append `data` to `dst`: one `memcpy` for short runs, pieces of 2 KiB
/// for long ones.
///
/// glibc copies large blocks with `rep movsb`, which on some x86 CPUs
/// (measured on this project's AMD EPYC machines, glibc 2.36) runs 20 to 30
/// times slower when the destination sits 0 to 15 bytes after the source
/// modulo 4 KiB, as it does when both are fresh heap buffers and the
/// destination has a frame header and a length before the run: a 64 KiB copy
/// took 60-120 us instead of 3-4 us. Copies below glibc's `rep movsb`
/// threshold (4 KiB with AVX2) use vector moves, which do not have the
/// problem; at 2 KiB a piece, the extra calls cost nothing measurable.
#[inline]
pub(crate) fn extend_run(dst: &mut Vec<u8>, data: &[u8]) {
    if data.len() <= PIECE {
        dst.extend_from_slice(data);
        return;
    }
    dst.reserve(data.len());
    for piece in data.chunks(PIECE) {
        dst.extend_from_slice(piece);
    }
}

/// Which byte-run collection, if any, a `deserialize_seq` visitor builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RunVisitor {
    /// serde's visitor of `Vec<u8>`.
    Vec,
    /// serde's visitor of `VecDeque<u8>`.
    VecDeque,
}

/// Whether `V` is serde's own visitor of `Vec<u8>` or `VecDeque<u8>`, and
/// its value that very type (so [`cast`] may move one into a `V::Value`).
#[inline]
pub(super) fn run_visitor<'de, V: Visitor<'de>>() -> Option<RunVisitor> {
    static IDS: OnceLock<(Option<TypeId>, Option<TypeId>)> = OnceLock::new();
    // The value type first: for other types the compiler folds it away.
    let value = typeid::of::<V::Value>();
    let kind = if value == typeid::of::<Vec<u8>>() {
        RunVisitor::Vec
    } else if value == typeid::of::<VecDeque<u8>>() {
        RunVisitor::VecDeque
    } else {
        return None;
    };
    let (vec, deque) = *IDS.get_or_init(|| (visitor_of::<Vec<u8>>(), visitor_of::<VecDeque<u8>>()));
    let expected = match kind {
        RunVisitor::Vec => vec,
        RunVisitor::VecDeque => deque,
    };
    (expected == Some(typeid::of::<V>())).then_some(kind)
}

/// Move `value` into the type `B`, which is `A`.
///
/// # Safety
///
/// `A` and `B` must be the same type (`typeid::of` equal, and `A` without
/// lifetime parameters so that equal ids mean equal types).
#[inline]
pub(super) unsafe fn cast<A, B>(value: A) -> B {
    debug_assert!(typeid::of::<A>() == typeid::of::<B>() && size_of::<A>() == size_of::<B>());
    let value = ManuallyDrop::new(value);
    // SAFETY: the caller guarantees `A` is `B`; `value` is not dropped, so
    // ownership moves to the returned copy.
    unsafe { std::mem::transmute_copy::<A, B>(&value) }
}

/// The visitor type `T::deserialize` hands to `deserialize_seq`, if it does.
fn visitor_of<T: for<'de> Deserialize<'de>>() -> Option<TypeId> {
    let mut seen = None;
    let _ = T::deserialize(Probe { seen: &mut seen });
    seen
}

/// A deserializer that records the visitor of `deserialize_seq` and fails.
struct Probe<'a> {
    seen: &'a mut Option<TypeId>,
}

#[derive(Debug)]
struct Probed;

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for Probed {}

impl de::Error for Probed {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probed
    }
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Probed;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        *self.seen = Some(typeid::of::<V>());
        Err(Probed)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serdes_byte_run_visitors_are_learned() {
        assert!(visitor_of::<Vec<u8>>().is_some());
        assert!(visitor_of::<VecDeque<u8>>().is_some());
        assert_ne!(visitor_of::<Vec<u8>>(), visitor_of::<Vec<u16>>());
        assert_ne!(visitor_of::<Vec<u8>>(), visitor_of::<VecDeque<u8>>());
    }

    #[test]
    fn long_runs_are_copied_whole_in_pieces() {
        for len in [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 7, 65536] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut dst = vec![1u8, 2, 3];
            extend_run(&mut dst, &data);
            assert_eq!(dst[..3], [1, 2, 3]);
            assert_eq!(dst[3..], data[..]);
        }
    }

    #[test]
    fn byte_runs_are_recognised_and_nothing_else() {
        let v = vec![1u8, 2, 3];
        assert_eq!(byte_run(&&v), Some((&[1u8, 2, 3][..], &[][..])));
        assert_eq!(byte_run(&&v[..]), Some((&[1u8, 2, 3][..], &[][..])));
        let d: VecDeque<u8> = v.iter().copied().collect();
        assert_eq!(byte_run(&&d).map(|(a, b)| [a, b].concat()), Some(v.clone()));
        assert_eq!(byte_run(&&vec![1u16]), None);
        assert_eq!(byte_run(&&vec![1i8]), None);
        assert_eq!(byte_run(&v.iter()), None);
    }
}
