//! MD5 (RFC 1321), for Twisted PB's challenge/response login only: PB's
//! `respond(challenge, password)` is `md5(md5(password) + challenge)`.
//! MD5 is broken as a general hash; it is here because Twisted's wire uses
//! it, never to protect anything else.

/// The per-round shift amounts.
const S: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15,
    21,
];

/// `floor(abs(sin(i + 1)) * 2^32)`.
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8,
    0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
    0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87,
    0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039,
    0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
    0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
    0xeb86d391,
];

/// The MD5 digest of the concatenation of `parts`.
pub(crate) fn digest(parts: &[&[u8]]) -> [u8; 16] {
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut message = Vec::with_capacity(len + 72);
    for part in parts {
        message.extend_from_slice(part);
    }
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((len as u64).wrapping_mul(8)).to_le_bytes());
    for block in message.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (word, bytes) in m.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a.wrapping_add(f).wrapping_add(K[i]).wrapping_add(m[g]).rotate_left(S[i]);
            (a, d, c) = (d, c, b);
            b = b.wrapping_add(rotated);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut out = [0u8; 16];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// Twisted PB's answer to a login challenge (`twisted.spread.pb.respond`):
/// `md5(md5(password) + challenge)`.
pub(crate) fn respond(challenge: &[u8], password: &[u8]) -> [u8; 16] {
    respond_hashed(challenge, &digest(&[password]))
}

/// [`respond`] from the password's MD5 (Twisted's `checkMD5Password`).
pub(crate) fn respond_hashed(challenge: &[u8], password_md5: &[u8; 16]) -> [u8; 16] {
    digest(&[password_md5, challenge])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn digests_match_pythons_hashlib() {
        // hashlib.md5(...).hexdigest(), around the padding boundaries.
        assert_eq!(hex(&digest(&[])), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&digest(&[&[b'x'; 55]])), "04364420e25c512fd958a70738aa8f72");
        assert_eq!(hex(&digest(&[&[b'x'; 56]])), "668a72d5ba17f08e62dabcafad6db14b");
        assert_eq!(hex(&digest(&[&[b'x'; 64]])), "c1bb4f81d892b2d57947682aeb252456");
        assert_eq!(hex(&digest(&[&[b'a'; 100], &[b'a'; 100]])), "887f30b43b2867f4a9accceee7d16e6c");
    }

    #[test]
    fn respond_matches_twisted() {
        // twisted.spread.pb.respond(b"0123456789abcdef", b"secret")
        assert_eq!(hex(&respond(b"0123456789abcdef", b"secret")), "fb654aad50303a26b539858afb969f27");
        // respond(b"\0" * 16, "pässwörd".encode())
        assert_eq!(hex(&respond(&[0; 16], "pässwörd".as_bytes())), "c9c11f3f00159f0c31709303ae5132d8");
    }
}
