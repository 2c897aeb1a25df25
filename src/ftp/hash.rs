//! File hashes the server computes (draft-bryan-ftp-hash `HASH`, and the
//! older `XSHA512`/`XSHA256`/`XSHA1` commands), so that an upload can be
//! checked against the hash of the bytes we sent.
//!
//! Only algorithms we can compute ourselves (with `ring`) are used: SHA-256,
//! SHA-512 and SHA-1, in that order of preference. SHA-256 comes before
//! SHA-512: against corruption both are more than enough (and neither helps
//! against a server that lies, which can forge its reply as easily), while
//! SHA-256 is about three times faster on CPUs with SHA extensions, on our
//! side (ring: 1324 vs 475 MiB/s here) and the server's (OpenSSL: 1.5 vs
//! 0.7 GB/s), and both sides hash every byte of every upload. MD5 and CRC32
//! are recognised in FEAT but never chosen.

use super::error::{Error, Result};
use super::features::Features;
use super::reply::Reply;

/// A hash algorithm both sides can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-1 (still catches any transfer corruption).
    Sha1,
    /// SHA-256, the preferred one.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// In order of preference (see the module's documentation).
    pub const ALL: [HashAlg; 3] = [HashAlg::Sha256, HashAlg::Sha512, HashAlg::Sha1];

    /// The IANA name `HASH` and `OPTS HASH` use (`SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "SHA-1",
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha512 => "SHA-512",
        }
    }

    /// The IANA name as a server writes it, any case; `None` for algorithms
    /// we cannot compute (MD5, CRC32, ...).
    pub fn from_name(name: &str) -> Option<HashAlg> {
        HashAlg::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The command that asks for this hash without `HASH` (`XSHA256`).
    pub fn x_command(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "XSHA1",
            HashAlg::Sha256 => "XSHA256",
            HashAlg::Sha512 => "XSHA512",
        }
    }

    /// Length of the digest in bytes.
    pub fn digest_len(self) -> usize {
        self.ring().output_len()
    }

    fn ring(self) -> &'static ring::digest::Algorithm {
        match self {
            HashAlg::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha256 => &ring::digest::SHA256,
            HashAlg::Sha512 => &ring::digest::SHA512,
        }
    }

    /// A fresh hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        Hasher {
            alg: self,
            ctx: ring::digest::Context::new(self.ring()),
        }
    }
}

/// Hashes bytes as they are sent.
#[derive(Clone)]
pub struct Hasher {
    alg: HashAlg,
    ctx: ring::digest::Context,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").field("alg", &self.alg).finish()
    }
}

impl Hasher {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.ctx.update(bytes);
    }

    /// The algorithm.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// The digest of everything added.
    pub fn finish(self) -> Vec<u8> {
        self.ctx.finish().as_ref().to_vec()
    }
}

/// How the server is asked for a file's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashMethod {
    /// `OPTS HASH alg` (once per connection) then `HASH path`.
    Hash(HashAlg),
    /// `XSHA256 path` and the like (proftpd answers 250 and the hex).
    X(HashAlg),
}

impl HashMethod {
    /// The algorithm.
    pub fn alg(self) -> HashAlg {
        match self {
            HashMethod::Hash(a) | HashMethod::X(a) => a,
        }
    }
}

impl std::fmt::Display for HashMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HashMethod::Hash(a) => write!(f, "HASH {}", a.name()),
            HashMethod::X(a) => f.write_str(a.x_command()),
        }
    }
}

/// The algorithms of a FEAT `HASH` line (`SHA-1;SHA-256*;MD5;`), each with
/// whether it is the one selected now (`*`), in the server's order; names
/// we cannot compute are left out.
pub fn parse_hash_feature(params: &str) -> Vec<(HashAlg, bool)> {
    params
        .split(';')
        .filter_map(|item| {
            let item = item.trim();
            let (name, current) = match item.strip_suffix('*') {
                Some(n) => (n, true),
                None => (item, false),
            };
            HashAlg::from_name(name).map(|a| (a, current))
        })
        .collect()
}

impl Features {
    /// The preferred hash ([`HashAlg::ALL`]) the server offers that we can compute: by `HASH`
    /// when it lists the algorithm (it takes any path), else by an `X...`
    /// command; `None` when there is none.
    pub fn hash_method(&self) -> Option<HashMethod> {
        let offered: Vec<HashAlg> = self
            .params("HASH")
            .map(parse_hash_feature)
            .unwrap_or_default()
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        HashAlg::ALL.into_iter().find_map(|a| {
            if offered.contains(&a) {
                Some(HashMethod::Hash(a))
            } else if self.has(a.x_command()) {
                Some(HashMethod::X(a))
            } else {
                None
            }
        })
    }

    /// The algorithm `HASH` uses before any `OPTS HASH` (marked `*` in FEAT).
    pub fn current_hash(&self) -> Option<HashAlg> {
        parse_hash_feature(self.params("HASH")?)
            .into_iter()
            .find_map(|(a, current)| current.then_some(a))
    }
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a hex string (either case); `None` if it is not hex.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// The last line of a reply: where `HASH` and `X...` put their answer
/// (proftpd sends `Computing ... digest` lines before it).
fn last_line(reply: &Reply) -> &str {
    reply.lines.last().map_or("", |l| l.trim())
}

/// The digest in a 213 reply to `HASH`: `ALG START-END HEX PATH`
/// (draft-bryan-ftp-hash section 3.2). The algorithm must be `alg`; the
/// range is not checked (servers differ on whether its end is inclusive).
pub fn parse_hash_reply(reply: &Reply, alg: HashAlg) -> Result<Vec<u8>> {
    let line = last_line(reply);
    let bad = |why: &str| Error::Protocol(format!("bad HASH reply ({why}): {line:?}"));
    let mut words = line.split_ascii_whitespace();
    let (Some(name), Some(range), Some(hex)) = (words.next(), words.next(), words.next()) else {
        return Err(bad("too few fields"));
    };
    if HashAlg::from_name(name) != Some(alg) {
        return Err(bad(&format!("not {}", alg.name())));
    }
    let valid_range = range
        .split_once('-')
        .is_some_and(|(a, b)| a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok());
    if !valid_range {
        return Err(bad("no byte range"));
    }
    digest_of(hex, alg).ok_or_else(|| bad("not a digest"))
}

/// The digest in a reply to `XSHA256 path` and the like: the last line is
/// the hex digest, possibly after other words (some servers repeat the path).
pub fn parse_x_reply(reply: &Reply, alg: HashAlg) -> Result<Vec<u8>> {
    let line = last_line(reply);
    line.split_ascii_whitespace()
        .find_map(|w| digest_of(w, alg))
        .ok_or_else(|| Error::Protocol(format!("bad {} reply: {line:?}", alg.x_command())))
}

/// `hex` as a digest of `alg`, if it is one (right length).
fn digest_of(hex: &str, alg: HashAlg) -> Option<Vec<u8>> {
    from_hex(hex).filter(|d| d.len() == alg.digest_len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ftp::reply::parse_replies;

    fn feat(lines: &[&str]) -> Features {
        let mut raw = String::from("211-Features:\r\n");
        for l in lines {
            raw.push_str(&format!(" {l}\r\n"));
        }
        raw.push_str("211 End\r\n");
        Features::from_reply(&parse_replies(raw.as_bytes()).unwrap()[0])
    }

    fn reply(raw: &str) -> Reply {
        parse_replies(raw.as_bytes()).unwrap().remove(0)
    }

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn the_preferred_hash_we_can_compute_is_chosen() {
        let proftpd = feat(&[
            "HASH CRC32;MD5;SHA-1*;SHA-256;SHA-512;",
            "XCRC",
            "MD5",
            "XMD5",
            "XSHA",
            "XSHA1",
            "XSHA256",
            "XSHA512",
        ]);
        assert_eq!(
            proftpd.hash_method(),
            Some(HashMethod::Hash(HashAlg::Sha256))
        );
        assert_eq!(
            feat(&["HASH SHA-1*;SHA-512", "XSHA1"]).hash_method(),
            Some(HashMethod::Hash(HashAlg::Sha512))
        );
        assert_eq!(proftpd.current_hash(), Some(HashAlg::Sha1));
        let x_only = feat(&["XCRC", "XMD5", "XSHA1", "XSHA256"]);
        assert_eq!(x_only.hash_method(), Some(HashMethod::X(HashAlg::Sha256)));
        assert_eq!(x_only.current_hash(), None);
        // A preferred X command wins over a weaker HASH algorithm.
        let mixed = feat(&["HASH SHA-1*;MD5", "XSHA256"]);
        assert_eq!(mixed.hash_method(), Some(HashMethod::X(HashAlg::Sha256)));
        assert_eq!(feat(&["HASH MD5*;CRC32", "XMD5"]).hash_method(), None);
        assert_eq!(feat(&["SIZE", "MDTM"]).hash_method(), None);
    }

    #[test]
    fn hash_feature_lists_are_read_leniently() {
        assert_eq!(
            parse_hash_feature(" sha-256* ; SHA-1;;MD5;bogus*"),
            [(HashAlg::Sha256, true), (HashAlg::Sha1, false)]
        );
        assert!(parse_hash_feature("").is_empty());
    }

    #[test]
    fn hex_round_trips_and_refuses_non_hex() {
        assert_eq!(to_hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(from_hex("00ABff"), Some(vec![0, 0xab, 0xff]));
        for bad in ["0", "zz", "0g", "é1"] {
            assert_eq!(from_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn hashers_compute_the_known_digests() {
        let mut h = HashAlg::Sha256.hasher();
        h.update(b"");
        assert_eq!(to_hex(&h.finish()), EMPTY_SHA256);
        let mut h = HashAlg::Sha1.hasher();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(
            to_hex(&h.finish()),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(HashAlg::Sha512.digest_len(), 64);
    }

    #[test]
    fn hash_replies_give_their_digest() {
        let r = reply(&format!(
            "213-Computing SHA-256 digest\r\n213 SHA-256 0-0 {EMPTY_SHA256} /dir/a file\r\n"
        ));
        assert_eq!(
            to_hex(&parse_hash_reply(&r, HashAlg::Sha256).unwrap()),
            EMPTY_SHA256
        );
        let upper = reply(&format!(
            "213 sha-256 0-0 {}\r\n",
            EMPTY_SHA256.to_uppercase()
        ));
        assert!(parse_hash_reply(&upper, HashAlg::Sha256).is_ok());
        for bad in [
            format!("213 SHA-1 0-0 {EMPTY_SHA256} /f\r\n"),
            format!("213 SHA-256 {EMPTY_SHA256} /f\r\n"),
            "213 SHA-256 0-0 abcd /f\r\n".to_string(),
            "213 SHA-256\r\n".to_string(),
            "213 \r\n".to_string(),
        ] {
            assert!(
                parse_hash_reply(&reply(&bad), HashAlg::Sha256).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn x_replies_give_their_digest() {
        let r = reply(&format!(
            "250-Computing SHA256 digest\r\n250 {}\r\n",
            EMPTY_SHA256.to_uppercase()
        ));
        assert_eq!(
            to_hex(&parse_x_reply(&r, HashAlg::Sha256).unwrap()),
            EMPTY_SHA256
        );
        let with_path = reply(&format!("250 {EMPTY_SHA256} /f\r\n"));
        assert!(parse_x_reply(&with_path, HashAlg::Sha256).is_ok());
        assert!(parse_x_reply(&reply("250 Computing...\r\n"), HashAlg::Sha256).is_err());
        assert!(parse_x_reply(&with_path, HashAlg::Sha512).is_err());
    }
}
