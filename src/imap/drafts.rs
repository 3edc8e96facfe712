//! Our drafts on the server: appending one and learning exactly what the server stored (its UID
//! under the folder's UIDVALIDITY and a SHA-256 of the bytes fetched back, since Exchange adds
//! headers and some servers re-encode), removing one of ours after re-checking all of that in the
//! same session, and reading the headers of every draft so the daemon can thread them. It never
//! decides which draft to remove: it removes the one whose [`Placed`] it is given, and only that.
//!
//! A [`Placed`] can only be made here (by an APPEND, or by adopting a draft found under our own
//! Message-ID with our marker), or read back from the ledger: removal takes one, never a raw UID.

use super::{command, within, FolderNames, Refused, Session};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// One draft of ours as the server stored it. "Ours, unmodified" means exactly: `uid` exists in
/// `folder` under `uidvalidity` and its bytes hash to `fingerprint` (IMAP messages never change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    folder: String,
    uidvalidity: u32,
    uid: u32,
    /// SHA-256 of `BODY[]` as fetched back, lowercase hex.
    fingerprint: String,
}

impl Placed {
    pub fn folder(&self) -> &str {
        &self.folder
    }
    pub fn uidvalidity(&self) -> u32 {
        self.uidvalidity
    }
    pub fn uid(&self) -> u32 {
        self.uid
    }
}

/// What [`Session::remove_ours`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Flagged `\Deleted` and expunged by UID (RFC 4315).
    Removed,
    /// Flagged `\Deleted` only: the server has no UIDPLUS, and a plain EXPUNGE would also purge
    /// what the user's client marked deleted. Their client's next expunge removes it.
    MarkedDeleted,
    /// That UID is gone (the user sent or deleted the draft): nothing done.
    Gone,
    /// The folder's UIDVALIDITY changed: the recorded UID means nothing now; nothing done.
    Renumbered,
    /// The UID holds other bytes, or lacks our marker: never ours to touch; nothing done.
    NotOurs,
    /// Recorded in a folder that is not today's Drafts (a changed `[folders] drafts`), or in
    /// INBOX or Sent: refused, nothing done; the draft is stranded there, never touched.
    Refused,
}

/// A draft in Drafts, by its threading headers (whoever wrote it).
#[derive(Debug, Clone, PartialEq)]
pub struct DraftHeader {
    pub uid: u32,
    /// The header block (Message-ID, In-Reply-To, References and our marker only).
    pub raw: Vec<u8>,
}

/// All of Drafts' headers at one moment, without the messages flagged `\Deleted`.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftsListing {
    pub uidvalidity: u32,
    pub drafts: Vec<DraftHeader>,
}

/// A NO or BAD becomes `None` (logged); a lost connection stays an error.
fn refused_is_none<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(err) if err.downcast_ref::<Refused>().is_some() => {
            tracing::warn!(
                "cannot fingerprint a draft of ours, so tend will never remove it: {err:#}"
            );
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

fn fingerprint(raw: &[u8]) -> String {
    Sha256::digest(raw)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Does the message carry our marker header (in its header block)?
fn has_marker(raw: &[u8]) -> bool {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let marker = format!(
        "{}:",
        crate::draft::compose::MARKER_HEADER.to_ascii_lowercase()
    );
    head.starts_with(&marker) || head.contains(&format!("\n{marker}"))
}

impl Session {
    /// Does the server offer UIDPLUS (RFC 4315: APPENDUID, UID EXPUNGE)?
    pub fn has_uidplus(&self) -> bool {
        self.uidplus
    }

    /// Appends `raw` (whose Message-ID is `message_id`) to `folder` with `\Draft \Seen` set in
    /// the APPEND itself, then finds its UID (APPENDUID, else a search for the Message-ID right
    /// after) and fetches it back to fingerprint what the server stored. `Ok(None)`: appended,
    /// but the server refused to locate or give it back, so it is not ours to remove ever.
    pub async fn append_draft(
        &mut self,
        folder: &str,
        raw: &[u8],
        message_id: &str,
    ) -> Result<Option<Placed>> {
        let wire = self.wire(folder);
        anyhow::ensure!(
            !wire.contains(['"', '\\', '\r', '\n']),
            "refusing to APPEND to a folder name with quotes or line breaks: {wire:?}"
        );
        let literal_plus = self.literal_plus;
        let what = "APPEND";
        let inner = &mut self.inner;
        let fut = async {
            // RFC 7888 LITERAL+: `{n+}` needs no continuation; without it we wait for `+`.
            let plus = if literal_plus { "+" } else { "" };
            let cmd = format!("APPEND \"{wire}\" (\\Draft \\Seen) {{{}{plus}}}", raw.len());
            let tag = inner.run_command(&cmd).await.context("sending APPEND")?;
            if !literal_plus {
                let resp = inner
                    .read_response()
                    .await
                    .context("reading the APPEND continuation")?
                    .context("the connection closed during APPEND")?;
                match resp.parsed() {
                    async_imap::imap_proto::Response::Continue(_) => {}
                    other => anyhow::bail!("APPEND: expected a continuation, got {other:?}"),
                }
            }
            let stream = inner.get_mut();
            stream.write_all(raw).await.context("sending the draft")?;
            stream
                .write_all(b"\r\n")
                .await
                .context("sending the draft")?;
            stream.flush().await.context("sending the draft")?;
            command::complete(inner, &tag, what, |_| {}).await
        };
        let done = within(self.timeout, &self.host, what, fut)
            .await
            .and_then(|status| Ok(status?))
            .with_context(|| format!("appending a draft to {folder:?}"))?;
        self.drain();
        // Appended. If the server then refuses to say where or to give it back, the draft
        // stays, unknown: tend will never remove it (`None`), which is the safe way to fail.
        Ok(refused_is_none(self.identify(folder, message_id, done.append_uid).await)?.flatten())
    }

    /// Where the draft just appended sits and what its bytes hash to.
    async fn identify(
        &mut self,
        folder: &str,
        message_id: &str,
        append_uid: Option<(u32, u32)>,
    ) -> Result<Option<Placed>> {
        let state = self.examine(folder).await?;
        let uid = match append_uid {
            Some((validity, uid)) if validity == state.uidvalidity => uid,
            _ => {
                let found = self.find_message_id(folder, message_id).await?;
                // The highest: a copy appended just now gets a UID above every older one.
                let Some(&uid) = found.last() else {
                    tracing::warn!("the draft <{message_id}> is not found in {folder:?} right after APPEND: tend will never remove it");
                    return Ok(None);
                };
                uid
            }
        };
        let Some(bytes) = self.fetch_whole(uid).await? else {
            tracing::warn!(
                "the draft just appended (UID {uid}) is gone: tend will never remove it"
            );
            return Ok(None);
        };
        Ok(Some(Placed {
            folder: folder.to_string(),
            uidvalidity: state.uidvalidity,
            uid,
            fingerprint: fingerprint(&bytes),
        }))
    }

    /// Adopts a draft found in `folder` under our own Message-ID (a crash between APPEND and the
    /// ledger write): only one UID, carrying our marker; with its bytes, so `deliver` can check
    /// the marker vouches for the body (an edited copy keeps our headers). `None`: not adoptable,
    /// so never removed.
    pub async fn adopt_draft(
        &mut self,
        folder: &str,
        uids: &[u32],
    ) -> Result<Option<(Placed, Vec<u8>)>> {
        let [uid] = uids else { return Ok(None) };
        let state = self.examine(folder).await?;
        let Some(bytes) = refused_is_none(self.fetch_whole(*uid).await)?.flatten() else {
            return Ok(None);
        };
        if !has_marker(&bytes) {
            return Ok(None);
        }
        let placed = Placed {
            folder: folder.to_string(),
            uidvalidity: state.uidvalidity,
            uid: *uid,
            fingerprint: fingerprint(&bytes),
        };
        Ok(Some((placed, bytes)))
    }

    /// The whole message at `uid` in the open folder, without setting \Seen; `None` when the
    /// server answered OK without it (it is gone). A NO or BAD is an error.
    async fn fetch_whole(&mut self, uid: u32) -> Result<Option<Vec<u8>>> {
        let cmd = format!("UID FETCH {uid} (UID BODY.PEEK[])");
        let mut got = None;
        let fut = command::run(&mut self.inner, &cmd, &cmd, |r| {
            if let Some(command::Body::Fetched(f)) = command::fetched_body(r) {
                if f.uid == uid {
                    got = Some(f.raw);
                }
            }
        });
        match within(self.timeout, &self.host, "UID FETCH", fut).await? {
            Ok(()) => Ok(got),
            Err(refused) if refused.expunge_issued() => Ok(None),
            Err(refused) => Err(refused.into()),
        }
    }

    /// Removes one draft of ours, in one session: SELECT its folder, check UIDVALIDITY, fetch
    /// the UID and check its fingerprint and our marker and that no client flagged it
    /// `\Deleted` (then it is [`Removal::Gone`]), then `UID STORE +FLAGS.SILENT
    /// (\Deleted)` and `UID EXPUNGE` of that UID alone (RFC 4315; never a plain EXPUNGE, which
    /// would purge what the user's client marked deleted). Without UIDPLUS it only flags.
    /// Every step's tagged status is checked; the folder is left by EXAMINE (never CLOSE,
    /// which would expunge). A draft recorded in any folder but today's Drafts (a changed
    /// `[folders] drafts`), or in INBOX or Sent, is refused ([`Removal::Refused`]).
    pub async fn remove_ours(&mut self, placed: &Placed, folders: &FolderNames) -> Result<Removal> {
        let folder = placed.folder.as_str();
        if folders.drafts.as_deref() != Some(folder)
            || folder.eq_ignore_ascii_case(&folders.inbox)
            || folders
                .sent
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(folder))
        {
            tracing::warn!(
                "refusing to remove a draft recorded in {folder:?}: not the Drafts folder {:?}; it stays there, never touched",
                folders.drafts
            );
            return Ok(Removal::Refused);
        }
        let result = self.remove_selected(placed).await;
        // Back to read-only whatever happened, so nothing later runs on a writable folder.
        let reopened = self.examine(&placed.folder).await;
        let removal = result?;
        reopened?;
        Ok(removal)
    }

    async fn remove_selected(&mut self, placed: &Placed) -> Result<Removal> {
        let folder = &placed.folder;
        let wire = self.wire(folder);
        let inner = &mut self.inner;
        let fut = async { Ok::<_, anyhow::Error>(inner.select(&wire).await?) };
        let mailbox = within(self.timeout, &self.host, "SELECT", fut)
            .await
            .with_context(|| format!("opening {folder:?} to remove a draft"))?;
        self.drain();
        if mailbox.uid_validity != Some(placed.uidvalidity) {
            return Ok(Removal::Renumbered);
        }
        let uid = placed.uid;
        let Some(bytes) = self.fetch_whole(uid).await? else {
            return Ok(Removal::Gone);
        };
        if fingerprint(&bytes) != placed.fingerprint || !has_marker(&bytes) {
            return Ok(Removal::NotOurs);
        }
        // Flagged \Deleted already: the user's client deleted it and will expunge it; a UID
        // EXPUNGE from us would do that client's work behind its back. Theirs now.
        if self.flagged_deleted(uid).await? {
            return Ok(Removal::Gone);
        }
        let store = format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)");
        self.checked(&store).await?;
        if !self.uidplus {
            return Ok(Removal::MarkedDeleted);
        }
        self.checked(&format!("UID EXPUNGE {uid}")).await?;
        Ok(Removal::Removed)
    }

    /// Is `uid` in the open folder flagged `\Deleted` (or gone)?
    async fn flagged_deleted(&mut self, uid: u32) -> Result<bool> {
        let cmd = format!("UID FETCH {uid} (UID FLAGS)");
        let mut deleted = None;
        let fut = command::run(&mut self.inner, &cmd, &cmd, |r| {
            if let Some((u, d)) = command::fetched_deleted(r) {
                if u == uid {
                    deleted = Some(d);
                }
            }
        });
        within(self.timeout, &self.host, "UID FETCH (FLAGS)", fut)
            .await
            .and_then(|status| Ok(status?))
            .with_context(|| format!("reading the flags of draft UID {uid}"))?;
        Ok(deleted.unwrap_or(true))
    }

    /// Runs a command whose answer we only need to be OK.
    async fn checked(&mut self, cmd: &str) -> Result<()> {
        let fut = command::run(&mut self.inner, cmd, cmd, |_| {});
        within(self.timeout, &self.host, cmd, fut)
            .await
            .and_then(|status: std::result::Result<(), Refused>| Ok(status?))
            .with_context(|| format!("removing a draft of ours: {cmd}"))?;
        self.drain();
        Ok(())
    }

    /// The threading headers of every message in `folder` (Drafts), read-only.
    pub async fn draft_headers(&mut self, folder: &str) -> Result<DraftsListing> {
        let state = self.examine(folder).await?;
        let mut drafts = Vec::new();
        if state.exists > 0 {
            let cmd = format!(
                "UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES {})])",
                crate::draft::compose::MARKER_HEADER.to_ascii_uppercase()
            );
            let fut = command::run(&mut self.inner, &cmd, &cmd, |r| {
                // A message flagged \Deleted is on its way out (the user deleted it, or we did on
                // a server without UIDPLUS): it holds no thread.
                if let Some(h) = command::fetched_header(r).filter(|h| !h.deleted) {
                    drafts.push(DraftHeader {
                        uid: h.uid,
                        raw: h.raw,
                    });
                }
            });
            within(
                self.timeout * 4,
                &self.host,
                "UID FETCH (drafts' headers)",
                fut,
            )
            .await
            .and_then(|status| Ok(status?))
            .with_context(|| format!("reading the headers in {folder:?}"))?;
        }
        drafts.sort_unstable_by_key(|d| d.uid);
        drafts.dedup_by_key(|d| d.uid);
        Ok(DraftsListing {
            uidvalidity: state.uidvalidity,
            drafts,
        })
    }

    /// `STATUS folder (UIDNEXT)`: a cheap look at whether a folder grew, without opening it.
    pub async fn uid_next(&mut self, folder: &str) -> Result<Option<u32>> {
        let wire = self.wire(folder);
        anyhow::ensure!(
            !wire.contains(['"', '\\', '\r', '\n']),
            "refusing a folder name with quotes or line breaks: {wire:?}"
        );
        let cmd = format!("STATUS \"{wire}\" (UIDNEXT)");
        let mut next = None;
        let fut = command::run(&mut self.inner, &cmd, &cmd, |r| {
            next = next.or(command::status_uid_next(r))
        });
        within(self.timeout, &self.host, "STATUS", fut)
            .await
            .and_then(|status| Ok(status?))
            .with_context(|| format!("asking {folder:?} for its UIDNEXT"))?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_counts_only_in_the_header() {
        assert!(has_marker(b"From: a\r\nX-Tend-Draft: 1\r\n\r\nbody"));
        assert!(has_marker(b"x-tend-draft: 1\r\n\r\nbody"));
        assert!(!has_marker(b"From: a\r\n\r\nX-Tend-Draft: 1\r\n"));
        assert!(!has_marker(b"From: a\r\nX-Tend-Drafty: 1\r\n\r\n"));
        assert_eq!(fingerprint(b"").len(), 64);
    }
}
