//! A stored message's entry: the `messages` tree's values. The message itself is a frame of
//! the texts file (`texts`); the entry says where, under which thread it is filed, its date
//! (what the stage keywords need of it, without reading the text), and whether this copy came
//! through a mailing list. A tag byte, the flag, the date, the frame's place, then the thread
//! id: about 70 bytes, where the message as deflated JSON was about 800 (store format 2), so
//! sled's leaves stay small.
//!
//! It does not decide what an entry holds (`filing` does) nor which entries are kept.

use super::texts::TextRef;
use anyhow::Result;

/// The first byte of an entry of store format 3. Format 2's deflated records started with 1,
/// format 1's JSON with `{`; both are dropped by the migration (`format`) before they are read.
const ENTRY: u8 = 3;
/// Tag, flags, date, offset, length.
const HEAD: usize = 1 + 1 + 8 + 8 + 4;
const VIA_LIST: u8 = 1;
const DATED: u8 = 2;

/// A stored message's entry.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Record {
    pub(super) thread: String,
    /// This copy came through a mailing list (a copy without list signs replaces it).
    pub(super) via_list: bool,
    pub(super) date: Option<i64>,
    pub(super) text: TextRef,
}

impl Record {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEAD + self.thread.len());
        out.push(ENTRY);
        let mut flags = 0;
        if self.via_list {
            flags |= VIA_LIST;
        }
        if self.date.is_some() {
            flags |= DATED;
        }
        out.push(flags);
        out.extend_from_slice(&self.date.unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&self.text.offset.to_be_bytes());
        out.extend_from_slice(&self.text.len.to_be_bytes());
        out.extend_from_slice(self.thread.as_bytes());
        out
    }

    pub(super) fn decode(v: &[u8]) -> Result<Record> {
        if v.len() < HEAD || v[0] != ENTRY {
            anyhow::bail!("a stored message's entry is damaged ({} bytes)", v.len());
        }
        let be8 = |at: usize| {
            let mut b = [0; 8];
            b.copy_from_slice(&v[at..at + 8]);
            b
        };
        let flags = v[1];
        let mut len = [0; 4];
        len.copy_from_slice(&v[18..22]);
        Ok(Record {
            thread: String::from_utf8_lossy(&v[HEAD..]).into_owned(),
            via_list: flags & VIA_LIST != 0,
            date: (flags & DATED != 0).then(|| i64::from_be_bytes(be8(2))),
            text: TextRef {
                offset: u64::from_be_bytes(be8(10)),
                len: u32::from_be_bytes(len),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_round_trips_and_stays_small() {
        for (via_list, date) in [
            (true, Some(-5)),
            (false, None),
            (false, Some(1_700_000_000)),
        ] {
            let r = Record {
                thread: "CAF=x+y@mail.gmail.com".into(),
                via_list,
                date,
                text: TextRef {
                    offset: 1 << 40,
                    len: 812,
                },
            };
            let bytes = r.encode();
            assert_eq!(bytes.len(), HEAD + r.thread.len());
            assert_eq!(Record::decode(&bytes).unwrap(), r);
        }
    }

    #[test]
    fn an_older_record_or_damage_is_an_error() {
        for bad in [
            &b"{\"thread\":\"t\"}"[..],
            &[1, 0x78, 0x9c],
            b"",
            &[ENTRY; 5],
        ] {
            assert!(Record::decode(bad).is_err(), "{bad:?}");
        }
    }
}
