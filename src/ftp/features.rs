//! The server's FEAT reply (RFC 2389), as a set of capabilities.

use super::reply::Reply;
use std::collections::HashMap;

/// Capabilities the server listed in FEAT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// Upper-cased feature name to its parameters (possibly empty).
    map: HashMap<String, String>,
}

impl Features {
    /// Parses a 211 FEAT reply: every line but the first and last names one feature.
    pub fn from_reply(reply: &Reply) -> Features {
        let mut map = HashMap::new();
        if reply.code != 211 || reply.lines.len() < 2 {
            return Features { map };
        }
        for line in &reply.lines[1..reply.lines.len() - 1] {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (name, params) = match line.split_once(' ') {
                Some((n, p)) => (n, p.trim()),
                None => (line, ""),
            };
            let name = name.to_ascii_uppercase();
            // "AUTH TLS" and "AUTH SSL" both appear: keep every parameter.
            map.entry(name)
                .and_modify(|p: &mut String| {
                    p.push(' ');
                    p.push_str(params)
                })
                .or_insert_with(|| params.to_string());
        }
        Features { map }
    }

    /// True when the feature (case-insensitive) was listed.
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(&name.to_ascii_uppercase())
    }

    /// The parameters of a listed feature.
    pub fn params(&self, name: &str) -> Option<&str> {
        self.map.get(&name.to_ascii_uppercase()).map(String::as_str)
    }

    /// `MFF` (draft-somers-ftp-mfxx) can set the fact `fact` (e.g.
    /// `UNIX.mode`): FEAT lists `MFF` with it among its parameters.
    pub fn mff_sets(&self, fact: &str) -> bool {
        self.params("MFF")
            .is_some_and(|p| p.split(';').any(|f| f.trim().eq_ignore_ascii_case(fact)))
    }

    /// MLSD can be used (the server lists MLST; RFC 3659 section 7.8).
    pub fn mlsd(&self) -> bool {
        self.has("MLST") || self.has("MLSD")
    }

    /// The argument of an `OPTS MLST` that turns on the `unix.mode` fact
    /// when the server offers it switched off (pyftpdlib), keeping the
    /// facts that are on (RFC 3659 section 7.9); `None` when not needed.
    pub fn mlst_facts_with_mode(&self) -> Option<String> {
        let facts: Vec<&str> = self
            .params("MLST")?
            .split(';')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        let mode = facts
            .iter()
            .find(|f| f.trim_end_matches('*').eq_ignore_ascii_case("unix.mode"))?;
        if mode.ends_with('*') {
            return None;
        }
        let mut on: Vec<&str> = facts.iter().filter_map(|f| f.strip_suffix('*')).collect();
        on.push(mode);
        Some(on.iter().map(|f| format!("{f};")).collect())
    }

    /// Names of all listed features, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.map.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ftp::reply::parse_replies;

    #[test]
    fn proftpd_feat_is_parsed() {
        let raw = b"211-Features:\r\n AUTH TLS\r\n MDTM\r\n MFMT\r\n MLST modify*;perm*;size*;type*;\r\n REST STREAM\r\n SIZE\r\n UTF8\r\n211 End\r\n";
        let f = Features::from_reply(&parse_replies(raw).unwrap()[0]);
        assert!(f.has("mfmt") && f.has("SIZE") && f.has("UTF8") && f.mlsd());
        assert_eq!(f.params("REST"), Some("STREAM"));
        assert_eq!(f.params("AUTH"), Some("TLS"));
        assert!(!f.has("EPSV"));
    }

    #[test]
    fn a_unix_mode_fact_switched_off_is_asked_for() {
        let feat = |mlst: &str| {
            let raw = format!("211-Features:\r\n MLST {mlst}\r\n211 End\r\n");
            Features::from_reply(&parse_replies(raw.as_bytes()).unwrap()[0])
        };
        let pyftpdlib = feat("type*;perm*;size*;modify*;unique;unix.mode;unix.uid;unix.gid;");
        assert_eq!(
            pyftpdlib.mlst_facts_with_mode().as_deref(),
            Some("type;perm;size;modify;unix.mode;")
        );
        assert_eq!(
            feat("modify*;perm*;size*;type*;UNIX.mode*;").mlst_facts_with_mode(),
            None
        );
        assert_eq!(
            feat("modify*;perm*;size*;type*;").mlst_facts_with_mode(),
            None
        );
        assert_eq!(Features::default().mlst_facts_with_mode(), None);
    }

    #[test]
    fn vsftpd_has_no_mlsd() {
        let raw = b"211-Features:\r\n AUTH TLS\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n PBSZ\r\n PROT\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n";
        let f = Features::from_reply(&parse_replies(raw).unwrap()[0]);
        assert!(!f.mlsd() && !f.has("MFMT") && f.has("EPSV"));
    }

    #[test]
    fn refused_feat_gives_no_features() {
        let r = parse_replies(b"500 Unknown command.\r\n").unwrap();
        assert!(Features::from_reply(&r[0]).names().is_empty());
    }
}
