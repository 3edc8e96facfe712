//! The stages the user set from their mail client: on the last look at each folder, which
//! messages carried a stage's IMAP keyword (tree `stage_keywords`, key `mailbox \0 folder`, a
//! JSON list of `(Message-ID, stage)`). Each look replaces its folder's list whole, so a tag
//! removed in the client drops out. Derived state like the rest of the store: the mailbox holds
//! the keywords, and a rebuilt store reads them again on the next pass.
//!
//! It does not know keywords or the pipeline (the daemon maps keywords to stages) and does not
//! decide which word wins (`corrections::Corrections::stage_changes`).

use super::{json, key, Store};
use anyhow::{Context, Result};

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
