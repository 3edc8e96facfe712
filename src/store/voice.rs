//! The learned voice per mailbox (`voice` tree) and the index of our own messages it is
//! learned from (`voice_own`: mailbox \0 date Message-ID, so the newest come first on a
//! reverse scan). Sync notes our messages as it stores them and marks the voice stale; the
//! next refresh relearns it from the newest [`crate::voice::LEARN_FROM`] of them, so the work
//! stays bounded however large Sent grows. A store from before the index is indexed once, on
//! its first refresh. Learning itself is `crate::voice` (pure).

use super::{json, key, Store};
use crate::config::Identity;
use crate::parse::Email;
use crate::voice::{self, Voice};
use anyhow::{Context, Result};

const VOICE: &str = "voice";
const STALE: &str = "stale";
const INDEXED: &str = "indexed";
/// Set when the store is created empty: sync notes our messages as it files them from the
/// first one on, so no mailbox of it needs [`Store::index_own`], which reads every message
/// (a second of CPU at 50,000 messages on the first pass after `tend sync`). Not a mailbox
/// key: a lone 0xff is no UTF-8 name.
const NOTED_FROM_START: &[u8] = &[0xff];

/// An index key: mailbox \0 date (big-endian, offset so that order is the date's) Message-ID.
fn own_key(mailbox: &str, date: Option<i64>, message_id: &str) -> Vec<u8> {
    let mut k = key(mailbox, "");
    let d = (date.unwrap_or(0) as u64) ^ (1 << 63);
    k.extend_from_slice(&d.to_be_bytes());
    k.extend_from_slice(message_id.as_bytes());
    k
}

impl Store {
    /// Notes the messages of ours among `emails` (just stored): the voice is relearned on the
    /// next refresh. Returns how many were ours.
    pub fn note_own(&self, mailbox: &str, me: &Identity, emails: &[Email]) -> Result<usize> {
        let mut n = 0;
        for e in emails {
            if e.from.as_ref().is_some_and(|f| me.is_own(&f.email)) {
                self.voice_own
                    .insert(own_key(mailbox, e.date, &e.message_id), &[])
                    .context("indexing a message of ours")?;
                n += 1;
            }
        }
        if n > 0 {
            self.voice
                .insert(key(mailbox, STALE), &[])
                .context("marking the voice stale")?;
        }
        Ok(n)
    }

    /// The voice last learned for `mailbox`.
    pub fn voice(&self, mailbox: &str) -> Result<Option<Voice>> {
        let v = self
            .voice
            .get(key(mailbox, VOICE))
            .context("reading the voice")?;
        let Some(v) = v else { return Ok(None) };
        match serde_json::from_slice(&v) {
            Ok(voice) => Ok(Some(voice)),
            Err(err) => {
                // Written by another version of tend: relearned on the next refresh.
                tracing::warn!("the stored voice does not decode ({err}); relearning it");
                self.voice
                    .insert(key(mailbox, STALE), &[])
                    .context("marking the voice stale")?;
                Ok(None)
            }
        }
    }

    /// On open: a store with nothing filed yet has every message of ours noted as it comes.
    /// (A migration that refills a new store must copy `voice_own` with the messages.)
    pub(super) fn note_own_from_start(&self) -> Result<()> {
        if self.mailbox_msgs.is_empty() {
            self.voice
                .insert(NOTED_FROM_START, &[])
                .context("marking the voice index complete")?;
        }
        Ok(())
    }

    /// Relearns the voice of `mailbox` when messages of ours came since it was learned (or it
    /// never was). True when it did.
    pub fn refresh_voice(&self, mailbox: &str, me: &Identity) -> Result<bool> {
        if !self.voice.contains_key(NOTED_FROM_START)?
            && !self.voice.contains_key(key(mailbox, INDEXED))?
        {
            self.index_own(mailbox, me)?;
        }
        let stale = self.voice.get(key(mailbox, STALE))?.is_some();
        if !stale && self.voice.contains_key(key(mailbox, VOICE))? {
            return Ok(false);
        }
        let mut emails = Vec::new();
        for item in self.voice_own.scan_prefix(key(mailbox, "")).rev() {
            if emails.len() >= voice::LEARN_FROM {
                break;
            }
            let (k, _) = item.context("scanning our own messages")?;
            let Some(id) = k.get(mailbox.len() + 1 + 8..) else {
                continue;
            };
            if let Some(email) = self.email(id)? {
                emails.push(email);
            }
        }
        let learned = voice::learn(&emails, me);
        self.voice
            .insert(key(mailbox, VOICE), json(&learned))
            .context("writing the voice")?;
        self.voice
            .remove(key(mailbox, STALE))
            .context("writing the voice")?;
        Ok(true)
    }

    /// Indexes the messages of ours a store from before the index holds (once per mailbox).
    fn index_own(&self, mailbox: &str, me: &Identity) -> Result<()> {
        let prefix = key(mailbox, "");
        let mut batch = Vec::new();
        for item in self.mailbox_msgs.scan_prefix(&prefix) {
            let (k, _) = item.context("scanning a mailbox's messages")?;
            if let Some(v) = self.messages.get(&k[prefix.len()..])? {
                if let Ok(email) = self.email_of(&v) {
                    batch.push(email);
                }
            }
            if batch.len() >= 1_000 {
                self.note_own(mailbox, me, &batch)?;
                batch.clear();
            }
        }
        self.note_own(mailbox, me, &batch)?;
        self.voice.insert(key(mailbox, STALE), &[])?;
        self.voice.insert(key(mailbox, INDEXED), &[])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Addr;

    fn me() -> Identity {
        Identity {
            addresses: vec!["alice@shop.example".into()],
            internal_domains: vec![],
        }
    }

    fn mail(id: &str, from: &str, to: &str, text: &str, date: i64) -> Email {
        Email {
            message_id: id.into(),
            in_reply_to: None,
            references: vec![],
            from: Some(Addr {
                name: None,
                email: from.into(),
            }),
            reply_to: vec![],
            to: vec![Addr {
                name: Some("Anna Buyer".into()),
                email: to.into(),
            }],
            cc: vec![],
            date: Some(date),
            subject: "Offer".into(),
            new_text: crate::parse::new_text(text),
            text: text.into(),
            automated: None,
            out_of_office: false,
            ooo_until: None,
        }
    }

    const SIGNED: &str = "Hi Anna,\n\nthe offer is attached, valid until the end of the month.\n\n-- \nAlice Seller\nShop GmbH";

    #[test]
    fn a_store_filled_from_empty_is_not_scanned_for_messages_of_ours() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let ours = mail(
            "a@shop",
            "alice@shop.example",
            "anna@buyer.example",
            SIGNED,
            10,
        );
        // As sync files a batch: stored, then noted.
        store
            .save_all("m", &me(), std::slice::from_ref(&ours))
            .unwrap();
        store.note_own("m", &me(), &[ours]).unwrap();
        drop(store);
        let store = reopen(dir.path());
        assert!(store.refresh_voice("m", &me()).unwrap());
        assert_eq!(store.voice("m").unwrap().unwrap().learned_from, 1);
        assert!(
            !store.voice.contains_key(key("m", INDEXED)).unwrap(),
            "the one-time scan of every message ran"
        );
    }

    /// Opens the store again once sled's flusher let go of the previous handle's lock.
    fn reopen(dir: &std::path::Path) -> Store {
        let start = std::time::Instant::now();
        loop {
            match Store::open(dir, 1) {
                Ok(store) => return store,
                Err(err) if super::super::is_locked(&err) && start.elapsed().as_secs() < 10 => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(err) => panic!("{err:#}"),
            }
        }
    }

    #[test]
    fn the_voice_is_relearned_when_messages_of_ours_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let first = mail(
            "a@shop",
            "alice@shop.example",
            "anna@buyer.example",
            SIGNED,
            10,
        );
        let inbound = mail(
            "b@buyer",
            "anna@buyer.example",
            "alice@shop.example",
            "Hello Alice, thanks for the offer, we will look at it.",
            20,
        );
        // A store filled before the index existed (so never marked as noted from the start):
        // the first refresh indexes it.
        store.voice.remove(NOTED_FROM_START).unwrap();
        store
            .save_all("m", &me(), &[first, inbound.clone()])
            .unwrap();
        assert!(store.refresh_voice("m", &me()).unwrap());
        let v = store.voice("m").unwrap().unwrap();
        assert_eq!(v.learned_from, 1);
        assert_eq!(
            v.signature.as_ref().unwrap().text,
            "Alice Seller\nShop GmbH"
        );
        // Only the buyer wrote: nothing to relearn, the stored voice is returned.
        assert_eq!(store.note_own("m", &me(), &[inbound]).unwrap(), 0);
        assert!(
            !store.refresh_voice("m", &me()).unwrap(),
            "nothing new of ours"
        );
        assert_eq!(store.voice("m").unwrap(), Some(v));
        // A new message of ours with another signature, twice: the voice follows.
        let resigned = SIGNED.replace("Shop GmbH", "Shop AG");
        let newer: Vec<Email> = (0..2)
            .map(|i| {
                mail(
                    &format!("n{i}@shop"),
                    "alice@shop.example",
                    "anna@buyer.example",
                    &resigned,
                    30 + i,
                )
            })
            .collect();
        store.save_all("m", &me(), &newer).unwrap();
        assert_eq!(store.note_own("m", &me(), &newer).unwrap(), 2);
        assert!(store.refresh_voice("m", &me()).unwrap());
        let v = store.voice("m").unwrap().unwrap();
        assert_eq!(v.learned_from, 3);
        assert_eq!(v.signature.unwrap().text, "Alice Seller\nShop AG");
        assert_eq!(store.voice("other").unwrap(), None);
        // A voice this version cannot read is relearned, not kept forever.
        store
            .voice
            .insert(key("m", VOICE), b"{\"garbage\": 1}".to_vec())
            .unwrap();
        assert_eq!(store.voice("m").unwrap(), None);
        assert!(store.refresh_voice("m", &me()).unwrap());
        assert_eq!(store.voice("m").unwrap().unwrap().learned_from, 3);
    }
}
