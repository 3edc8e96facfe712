//! The storage parameters sled recorded when it made a store (its `conf` file: lines of
//! `key: value`, then a 4-byte checksum). sled refuses, as `Unsupported`, to open a store with a
//! segment size or compression other than the recorded ones, and says the same of a `conf` it
//! cannot parse: reading the file here lets `Store::open` open an existing store with the size
//! it was made with, and tell a store of other parameters (kept, with its ledger) from a
//! damaged one (moved aside).
//!
//! It does not open sled, and does not judge whether this build can honour what it reads.

use std::path::Path;

/// What sled recorded of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stored {
    pub segment_size: usize,
    pub use_compression: bool,
    pub version: (u32, u32),
}

/// The parameters recorded in the store at `db` (the directory sled was opened on), or `None`
/// when there is no `conf` or it does not parse: a new store, or a damaged one.
pub(super) fn stored(db: &Path) -> Option<Stored> {
    let bytes = std::fs::read(db.join("conf")).ok()?;
    parse(&bytes)
}

fn parse(bytes: &[u8]) -> Option<Stored> {
    // The last four bytes are the checksum of the text before them.
    let text = std::str::from_utf8(bytes.get(..bytes.len().checked_sub(4)?)?).ok()?;
    let (mut segment_size, mut use_compression, mut version) = (None, None, None);
    for line in text.lines() {
        let (k, v) = line.split_once(": ")?;
        match k {
            "segment_size" => segment_size = v.parse::<usize>().ok(),
            "use_compression" => use_compression = v.parse::<bool>().ok(),
            "version" => {
                let (a, b) = v.split_once('.')?;
                version = Some((a.parse().ok()?, b.parse().ok()?));
            }
            _ => {}
        }
    }
    // sled's own bounds (`Config::validate`): a power of two from 256 bytes to 16 MiB.
    let segment_size =
        segment_size.filter(|s| s.is_power_of_two() && (256..=1 << 24).contains(s))?;
    Some(Stored {
        segment_size,
        use_compression: use_compression?,
        version: version?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> Vec<u8> {
        let mut b = text.as_bytes().to_vec();
        b.extend_from_slice(&[1, 2, 3, 4]);
        b
    }

    #[test]
    fn reads_what_sled_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        drop(
            sled::Config::new()
                .path(&path)
                .segment_size(1 << 20)
                .open()
                .unwrap(),
        );
        let p = stored(&path).expect("parsed");
        assert_eq!(p.segment_size, 1 << 20);
        assert!(!p.use_compression);
        assert_eq!(p.version, (0, 34));
    }

    #[test]
    fn garbage_or_a_missing_key_is_none() {
        assert_eq!(parse(b"\xff\xfe not a sled config"), None);
        assert_eq!(parse(b"ab"), None);
        assert_eq!(parse(&conf("segment_size: 524288\nversion: 0.34\n")), None);
        assert_eq!(
            parse(&conf(
                "segment_size: 1000\nuse_compression: false\nversion: 0.34\n"
            )),
            None,
            "not a power of two"
        );
        assert_eq!(
            parse(&conf(
                "segment_size: 524288\nuse_compression: false\nversion: 0.34\n"
            )),
            Some(Stored {
                segment_size: 524288,
                use_compression: false,
                version: (0, 34)
            })
        );
    }
}
