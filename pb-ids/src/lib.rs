//! Wire identity of pb, defined once.
//!
//! Peers find interfaces and methods by number, not by name: an interface
//! travels as its 64-bit id, a method as its 32-bit id. Unless a schema or a
//! `#[pb(id = ...)]` gives one explicitly, an id is the FNV-1a hash of the
//! wire name (tiny, well known, stable across compilers and platforms), so
//! that `#[pb::remote_interface]`, the `pb-idl` compiler and the runtime
//! agree on it without talking to each other. All three use this crate.
//!
//! The rules:
//!
//! - interface id: [`interface_id`] of the interface's wire name (64-bit FNV-1a);
//! - method id: [`method_id`] of the method's wire name (32-bit FNV-1a);
//! - [`DESCRIBE_METHOD`] is reserved: every object answers it with its
//!   interface description, so no remote method may have it
//!   ([`is_reserved_method_id`]);
//! - two remote methods of one interface must not share an id, nor two
//!   interfaces served side by side (ids are compared as plain numbers);
//! - a method's signature is hashed with [`signature_hash`] (64-bit FNV-1a of
//!   its normalized text), so peers can tell when two versions disagree.
//!
//! # Examples
//!
//! ```
//! assert_eq!(pb_ids::method_id("foobar"), 0xbf9c_f968);
//! const ID: u64 = pb_ids::interface_id("shop.Shop");
//! assert_eq!(ID, pb_ids::interface_id("shop.Shop"));
//! assert!(pb_ids::is_reserved_method_id(pb_ids::DESCRIBE_METHOD));
//! ```

#![no_std]
#![warn(missing_docs)]

/// The method id every object answers with its interface description.
///
/// Reserved: `#[pb::remote_interface]` and `pb-idl` reject a remote method
/// with this id.
pub const DESCRIBE_METHOD: u32 = u32::MAX;

/// Whether `id` is reserved by pb and cannot be a remote method's id.
pub const fn is_reserved_method_id(id: u32) -> bool {
    id == DESCRIBE_METHOD
}

/// Interface id: 64-bit FNV-1a of the interface's wire name.
pub const fn interface_id(wire_name: &str) -> u64 {
    fnv1a_64(wire_name.as_bytes())
}

/// Method id: 32-bit FNV-1a of the method's wire name.
pub const fn method_id(wire_name: &str) -> u32 {
    fnv1a_32(wire_name.as_bytes())
}

/// Hash of a method's normalized signature: 64-bit FNV-1a of its text
/// (`get_user(u64)->User|UserError`).
pub const fn signature_hash(signature: &str) -> u64 {
    fnv1a_64(signature.as_bytes())
}

/// 64-bit FNV-1a of `bytes`.
pub const fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// 32-bit FNV-1a of `bytes`.
pub const fn fnv1a_32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u32;
        h = h.wrapping_mul(0x0100_0193);
        i += 1;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_fnv1a_vectors() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn ids_hash_the_wire_name() {
        assert_eq!(interface_id("a"), fnv1a_64(b"a"));
        assert_eq!(method_id("foobar"), fnv1a_32(b"foobar"));
        assert_eq!(signature_hash("f()->u64|E"), fnv1a_64(b"f()->u64|E"));
        // Usable in constants.
        const ID: u32 = method_id("ping");
        assert_eq!(ID, method_id("ping"));
    }

    #[test]
    fn only_the_describe_id_is_reserved() {
        assert_eq!(DESCRIBE_METHOD, u32::MAX);
        assert!(is_reserved_method_id(u32::MAX));
        assert!(!is_reserved_method_id(0));
        assert!(!is_reserved_method_id(u32::MAX - 1));
    }
}
