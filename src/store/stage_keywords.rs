//! The stages the user set from their mail client: on the last look at each folder, which
//! messages carried a stage's IMAP keyword (tree `stage_keywords`, key `mailbox \0 folder`, a
//! JSON list of `(Message-ID, stage)`). Each look replaces its folder's list whole, so a tag
//! removed in the client drops out. Derived state like the rest of the store: the mailbox holds
//! the keywords, and a rebuilt store reads them again on the next pass.
//!
//! It does not know keywords or the pipeline (the daemon maps keywords to stages) and does not
//! decide which word wins (`corrections::Corrections::stage_changes`).

use super::corrections::Corrections;
use super::{json, key, Record, Store};
use crate::record::StageChange;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, HashMap};

impl Store {
    fn stage_keywords(&self) -> Result<sled::Tree> {
        // Opened on use: sled hands back the same tree, and the handle stays as it is.
        self.db
            .open_tree("stage_keywords")
            .context("opening tree stage_keywords")
    }

    /// Replaces what the last look at `folder` of `mailbox` found: `(Message-ID, stage)` of
    /// every message carrying a stage's keyword. Unchanged lists are not rewritten.
    pub fn set_keyworded(
        &self,
        mailbox: &str,
        folder: &str,
        tagged: &[(String, String)],
    ) -> Result<()> {
        let mut tagged = tagged.to_vec();
        tagged.sort();
        tagged.dedup();
        let tree = self.stage_keywords()?;
        let k = key(mailbox, folder);
        let value = json(&tagged);
        if tree
            .get(&k)
            .context("reading a folder's stage keywords")?
            .is_some_and(|old| old == value)
        {
            return Ok(());
        }
        if tagged.is_empty() {
            tree.remove(k)
        } else {
            tree.insert(k, value)
        }
        .context("writing a folder's stage keywords")?;
        Ok(())
    }

    /// Every `(Message-ID, stage)` tagged in any folder of any mailbox, sorted, each once.
    pub fn keyworded_stages(&self) -> Result<Vec<(String, String)>> {
        let mut all = Vec::new();
        for item in self.stage_keywords()?.iter() {
            let (k, v) = item.context("reading the stage keywords")?;
            match serde_json::from_slice::<Vec<(String, String)>>(&v) {
                Ok(list) => all.extend(list),
                // Rewritten whole on the next look at that folder.
                Err(err) => tracing::warn!(
                    key = %String::from_utf8_lossy(&k).replace('\0', "/"),
                    "unreadable stage keywords, skipped: {err}"
                ),
            }
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// The user's word on each thread's stage, from `corrections` and the stage keywords of
    /// every mailbox: [`Corrections::stage_changes`] with each message's thread and date
    /// looked up here. Keyed by thread id (a message no thread knows: by its own id).
    pub fn user_stages(
        &self,
        corrections: &Corrections,
    ) -> Result<BTreeMap<String, Vec<StageChange>>> {
        let tagged = self.keyworded_stages()?;
        let mut threads = HashMap::new();
        let mut dates = HashMap::new();
        let ids = corrections
            .entries()
            .iter()
            .map(|c| &c.message_id)
            .chain(tagged.iter().map(|(id, _)| id));
        for id in ids {
            if threads.contains_key(id.as_str()) {
                continue;
            }
            // A stored message's entry gives both; an id only named has no date.
            let (thread, date) = match self.messages.get(id).context("reading a message")? {
                Some(v) => {
                    let r = Record::decode(&v)?;
                    (Some(self.follow(&r.thread)?), r.date)
                }
                None => (self.thread_of(id)?, None),
            };
            threads.insert(id.clone(), thread);
            dates.insert(id.clone(), date);
        }
        Ok(
            corrections.stage_changes(&tagged, &|id| threads.get(id).cloned().flatten(), &|id| {
                dates.get(id).copied().flatten()
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(id: &str, stage: &str) -> (String, String) {
        (id.to_string(), stage.to_string())
    }

    #[test]
    fn each_look_replaces_its_folder_and_a_removed_tag_drops_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        store
            .set_keyworded("alice", "INBOX", &[pair("q1@b", "proposal")])
            .unwrap();
        store
            .set_keyworded("alice", "Sent", &[pair("s1@a", "demo")])
            .unwrap();
        store
            .set_keyworded("bob", "INBOX", &[pair("q1@b", "proposal")])
            .unwrap();
        assert_eq!(
            store.keyworded_stages().unwrap(),
            [pair("q1@b", "proposal"), pair("s1@a", "demo")]
        );
        // The tag was removed in alice's client; bob's copy still carries it.
        store.set_keyworded("alice", "INBOX", &[]).unwrap();
        store.set_keyworded("alice", "Sent", &[]).unwrap();
        assert_eq!(
            store.keyworded_stages().unwrap(),
            [pair("q1@b", "proposal")]
        );
        store.set_keyworded("bob", "INBOX", &[]).unwrap();
        assert!(store.keyworded_stages().unwrap().is_empty());
    }

    fn mail(
        id: &str,
        parent: Option<&str>,
        from: &str,
        to: &str,
        date: i64,
    ) -> crate::parse::Email {
        let a = |e: &str| crate::parse::Addr {
            name: None,
            email: e.into(),
        };
        crate::parse::Email {
            message_id: id.into(),
            in_reply_to: parent.map(Into::into),
            references: parent.iter().map(|r| r.to_string()).collect(),
            from: Some(a(from)),
            reply_to: vec![],
            to: vec![a(to)],
            cc: vec![],
            date: Some(date),
            subject: "Pricing".into(),
            new_text: "hi".into(),
            text: "hi".into(),
            automated: None,
            out_of_office: false,
            ooo_until: None,
        }
    }

    #[test]
    fn the_users_stages_are_placed_on_their_threads_and_dates() {
        use crate::record::StageSource;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let me = crate::config::Identity {
            addresses: vec!["alice@acme.test".into()],
            internal_domains: vec![],
        };
        let q = mail("q@b", None, "bob@buyer.test", "alice@acme.test", 1_000);
        let r = mail(
            "r@a",
            Some("q@b"),
            "alice@acme.test",
            "bob@buyer.test",
            2_000,
        );
        store.save_all("alice", &me, &[q, r]).unwrap();
        store
            .set_keyworded("alice", "Sent", &[pair("r@a", "proposal")])
            .unwrap();
        let mut c = Corrections::default();
        c.set("q@b", Some("demo"), 1_500, Some("call booked"));
        let out = store.user_stages(&c).unwrap();
        let got: Vec<_> = out["q@b"]
            .iter()
            .map(|s| (s.stage.as_str(), s.at, s.source))
            .collect();
        assert_eq!(
            got,
            [
                // A command is dated by the message it names (q, 1000).
                ("demo", 1_000, StageSource::Command),
                ("proposal", 2_000, StageSource::Keyword)
            ]
        );
        assert_eq!(out.len(), 1, "{out:?}");
    }

    #[test]
    fn stage_keywords_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 0).unwrap();
            store
                .set_keyworded("alice", "INBOX", &[pair("q1@b", "won")])
                .unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path(), 0).unwrap();
        assert_eq!(store.keyworded_stages().unwrap(), [pair("q1@b", "won")]);
    }
}
