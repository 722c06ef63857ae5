//! Wire identities, computed exactly as `#[pb::remote_interface]` does:
//! 64-bit FNV-1a of the interface name, 32-bit FNV-1a of the method name.

/// Interface id: 64-bit FNV-1a of the interface's wire name.
pub fn interface_id(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Method id: 32-bit FNV-1a of the method's wire name.
pub fn method_id(name: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_vectors() {
        // The vectors pb-macros tests against.
        assert_eq!(super::interface_id(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::interface_id("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(super::method_id("a"), 0xe40c_292c);
        assert_eq!(super::method_id("foobar"), 0xbf9c_f968);
    }
}
