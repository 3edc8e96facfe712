//! Stored messages already decoded, kept for one pass ([`Decoded`]). A pass reads the same
//! threads again and again: the review reads the window's, every draft reads its company's
//! newest (the related threads of `draft::memory`), the joins read the window's again and each
//! new deal's candidates (`daemon::joins`); inflating and parsing a record costs far more than
//! reading it, so each record is decoded once a pass. A record is
//! reused only while its stored bytes are the same, so a message filed again meanwhile (the
//! direct copy replacing a list copy) is decoded again: the memo never changes what is read.
//!
//! It decides nothing about which threads are read, and lives only as long as its owner keeps
//! it (a pass, never the daemon): at most [`BUDGET`] bytes of text at a time.

use super::Store;
use crate::parse::Email;
use crate::thread::Thread;
use anyhow::Result;
use std::collections::HashMap;
use std::sync::Mutex;

/// Bytes of message text held at most; past it the memo starts afresh. The review window of
/// the 50k bench mailbox (two months of it) holds about 22 MB of text.
const BUDGET: usize = 32 * 1024 * 1024;
/// What one message costs beside its text (addresses, ids, the map's entry), roughly.
const OVERHEAD: usize = 512;

/// Decoded records by Message-ID, each with the stored bytes it was decoded from.
#[derive(Default)]
pub struct Decoded {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    records: HashMap<Vec<u8>, (sled::IVec, Email)>,
    bytes: usize,
}

impl Decoded {
    /// The message stored as `v` under `id`, decoded once while `v` stays the same.
    fn email(&self, store: &Store, id: &[u8], v: sled::IVec) -> Result<Email> {
        // A poisoned lock only means another reader panicked: the map is still whole.
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((bytes, email)) = inner.records.get(id) {
            // The same bytes: often the same buffer of sled's cache, else compared.
            if bytes.as_ptr() == v.as_ptr() && bytes.len() == v.len() || *bytes == v {
                return Ok(email.clone());
            }
        }
        let email = store.email_of(&v)?;
        let size = email.text.len() + email.new_text.len() + OVERHEAD;
        if inner.bytes + size > BUDGET {
            inner.records.clear();
            inner.bytes = 0;
        }
        inner.bytes += size;
        if let Some((_, old)) = inner.records.insert(id.to_vec(), (v, email.clone())) {
            inner.bytes -= old.text.len() + old.new_text.len() + OVERHEAD;
        }
        Ok(email)
    }
}

impl Store {
    /// [`Store::thread`], each record decoded through `memo`.
    pub fn thread_decoded(&self, thread_id: &str, memo: &Decoded) -> Result<Option<Thread>> {
        self.thread_read(thread_id, |id, v| memo.email(self, id, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Identity;

    fn me() -> Identity {
        Identity {
            addresses: vec!["alice@shop.example".into()],
            internal_domains: vec!["shop.example".into()],
        }
    }

    fn mail(id: &str, parent: Option<&str>, text: &str) -> Email {
        let mut raw = format!("Message-ID: <{id}>\r\nFrom: anna@buyer.example\r\n");
        if let Some(p) = parent {
            raw.push_str(&format!("In-Reply-To: <{p}>\r\n"));
        }
        raw.push_str(&format!("To: alice@shop.example\r\nSubject: PVC\r\nDate: Mon, 3 Jun 2024 10:00:00 +0000\r\n\r\n{text}\r\n"));
        crate::parse::parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn a_thread_read_through_the_memo_is_the_thread_and_follows_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let memo = Decoded::default();
        let mut list_copy = mail("a@b", None, "The first words");
        list_copy.automated = Some("List-Id: <team.lists.example>".into());
        store.save("alice", &me(), &list_copy).unwrap();
        let read = |store: &Store| {
            let plain = store.thread("a@b").unwrap().unwrap();
            let memo = store.thread_decoded("a@b", &memo).unwrap().unwrap();
            assert_eq!(plain.id, memo.id);
            assert_eq!(plain.messages, memo.messages);
            memo
        };
        assert!(read(&store).messages[0].automated.is_some());
        assert!(
            read(&store).messages[0].automated.is_some(),
            "from the memo"
        );
        // The direct copy replaces the list copy under the same Message-ID: read anew.
        store
            .save("alice", &me(), &mail("a@b", None, "The first words"))
            .unwrap();
        assert_eq!(read(&store).messages[0].automated, None);
        // A reply joins the thread: the memo holds the first, decodes the second.
        store
            .save("alice", &me(), &mail("c@b", Some("a@b"), "The answer"))
            .unwrap();
        assert_eq!(read(&store).messages.len(), 2);
        assert!(store.thread_decoded("x@y", &memo).unwrap().is_none());
    }
}
