//! MD5, for Twisted PB's challenge/response login only: PB's
//! `respond(challenge, password)` is `md5(md5(password) + challenge)`.
//! MD5 is broken as a general hash; it is here because Twisted's wire uses
//! it, never to protect anything else.

use md5::{Digest, Md5};

/// The MD5 digest of the concatenation of `parts` (RustCrypto's `md-5`).
pub(crate) fn digest(parts: &[&[u8]]) -> [u8; 16] {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
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
