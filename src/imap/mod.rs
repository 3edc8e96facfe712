//! IMAP, the only user of async-imap: connect and log in ([`connect`]), find INBOX, Sent and
//! Drafts by their RFC 6154 attributes, fetch what is new after a UID, search a folder for a
//! Message-ID, append a draft. Folders are opened with EXAMINE (read-only) and bodies fetched
//! with `BODY.PEEK`, so tend never marks buyer mail as read. It never calls the store: the
//! daemon saves cursors after the messages are stored.

pub mod connect;
mod idle;

use crate::config::{Folders, ImapConfig};
use anyhow::{Context, Result};
use async_imap::types::NameAttribute;
use connect::ImapSession;
pub use connect::LoginError;
use futures::TryStreamExt;
pub use idle::Wake;
use std::future::Future;
use std::time::Duration;

/// The folders a pass works with.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderNames {
    pub inbox: String,
    pub sent: Option<String>,
    pub drafts: Option<String>,
}

/// A folder's state as EXAMINE reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FolderState {
    pub uidvalidity: u32,
    pub uid_next: Option<u32>,
    pub exists: u32,
}

/// One fetched message.
#[derive(Debug)]
pub struct Fetched {
    pub uid: u32,
    /// The message bytes, at most the cap given to [`Session::fetch`].
    pub raw: Vec<u8>,
    /// INTERNALDATE as Unix seconds: the date to use when the Date header is missing.
    pub internal_date: Option<i64>,
}

/// A logged-in connection. Used until it errors, then dropped and reopened by the caller.
pub struct Session {
    inner: ImapSession,
    timeout: Duration,
    host: String,
    /// Does the server offer IDLE (RFC 2177)? Without it the daemon polls.
    can_idle: bool,
}

/// Names tried, case-insensitively, when no folder carries the RFC 6154 attribute.
const SENT_NAMES: &[&str] = &[
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "Gesendet",
    "Gesendete Elemente",
    "Envoyés",
];
const DRAFTS_NAMES: &[&str] = &["Drafts", "Draft", "Entwürfe", "Brouillons"];

impl Session {
    /// Connects and logs in with the configured secret.
    pub async fn connect(cfg: &ImapConfig) -> Result<Session, LoginError> {
        let password = cfg.password.reveal().context("reading the IMAP password")?;
        let mut inner = connect::login(cfg, &password).await?;
        let caps = within(cfg.timeout, &cfg.host, "CAPABILITY", async {
            Ok(inner.capabilities().await?)
        })
        .await?;
        let mut session = Session {
            can_idle: caps.has_str("IDLE"),
            inner,
            timeout: cfg.timeout,
            host: cfg.host.clone(),
        };
        session.drain();
        Ok(session)
    }

    /// Does the server offer IDLE? Without it, new mail is found by polling.
    pub fn can_idle(&self) -> bool {
        self.can_idle
    }

    /// Drops unsolicited responses we do not use, so they never pile up.
    fn drain(&mut self) {
        while self.inner.unsolicited_responses.try_recv().is_ok() {}
    }

    /// Finds INBOX, Sent and Drafts: the user's override, else the RFC 6154 attribute, else a
    /// well-known name.
    pub async fn folders(&mut self, overrides: &Folders) -> Result<FolderNames> {
        let inner = &mut self.inner;
        let list = async {
            let stream = inner.list(Some(""), Some("*")).await?;
            let names: Vec<_> = stream.try_collect().await?;
            Ok(names
                .iter()
                .map(|n| {
                    (
                        n.name().to_string(),
                        n.attributes().iter().map(attr_name).collect(),
                    )
                })
                .collect::<Vec<(String, Vec<String>)>>())
        };
        let names = within(self.timeout, &self.host, "LIST", list).await?;
        self.drain();
        let by_attr = |attr: &str| {
            names
                .iter()
                .find(|(_, attrs)| attrs.iter().any(|a| a.eq_ignore_ascii_case(attr)))
                .map(|(n, _)| n.clone())
        };
        let by_name = |candidates: &[&str]| {
            candidates.iter().find_map(|c| {
                names
                    .iter()
                    .find(|(n, _)| {
                        let leaf = n.rsplit(['/', '.']).next().unwrap_or(n);
                        leaf.eq_ignore_ascii_case(c)
                    })
                    .map(|(n, _)| n.clone())
            })
        };
        let exists = |wanted: &str| names.iter().any(|(n, _)| n == wanted);
        let pick = |o: &Option<String>, attr: &str, fallback: &[&str]| -> Result<Option<String>> {
            match o {
                Some(name) if exists(name) => Ok(Some(name.clone())),
                Some(name) => {
                    anyhow::bail!("the configured folder {name:?} does not exist on the server")
                }
                None => Ok(by_attr(attr).or_else(|| by_name(fallback))),
            }
        };
        Ok(FolderNames {
            // RFC 3501 5.1: INBOX always names the user's inbox; no attribute or guess needed.
            inbox: pick(&overrides.inbox, "\\Inbox", &[])?.unwrap_or_else(|| "INBOX".into()),
            sent: pick(&overrides.sent, "\\Sent", SENT_NAMES)?,
            drafts: pick(&overrides.drafts, "\\Drafts", DRAFTS_NAMES)?,
        })
    }

    /// Opens `folder` read-only.
    pub async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        let inner = &mut self.inner;
        let fut = async { Ok::<_, anyhow::Error>(inner.examine(folder).await?) };
        let mailbox = within(self.timeout, &self.host, "EXAMINE", fut)
            .await
            .with_context(|| format!("opening folder {folder:?}"))?;
        self.drain();
        Ok(FolderState {
            // RFC 3501 makes UIDVALIDITY mandatory; a server without it gets 0, which forces a
            // full resync whenever it starts sending one.
            uidvalidity: mailbox.uid_validity.unwrap_or(0),
            uid_next: mailbox.uid_next,
            exists: mailbox.exists,
        })
    }

    /// UIDs and sizes of the messages after `after` in the open folder, ascending.
    pub async fn uids_after(&mut self, after: u32) -> Result<Vec<(u32, u32)>> {
        let inner = &mut self.inner;
        let query = format!("{}:*", after.saturating_add(1));
        let fut = async {
            let stream = inner.uid_fetch(&query, "(UID RFC822.SIZE)").await?;
            let fetches: Vec<_> = stream.try_collect().await?;
            Ok::<_, anyhow::Error>(
                fetches
                    .iter()
                    .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0))))
                    .collect::<Vec<_>>(),
            )
        };
        let mut uids = within(self.timeout, &self.host, "UID FETCH (UID RFC822.SIZE)", fut)
            .await
            .context("listing new messages")?;
        self.drain();
        // "N:*" also matches the highest UID when N is above it (RFC 3501 6.4.8).
        uids.retain(|(uid, _)| *uid > after);
        uids.sort_unstable();
        uids.dedup_by_key(|(uid, _)| *uid);
        Ok(uids)
    }

    /// Fetches the given UIDs of the open folder, each cut at `cap` bytes, without setting \Seen.
    pub async fn fetch(&mut self, uids: &[u32], cap: u32) -> Result<Vec<Fetched>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let set = uid_set(uids);
        let items = format!("(UID INTERNALDATE BODY.PEEK[]<0.{cap}>)");
        let inner = &mut self.inner;
        let fut = async {
            let stream = inner.uid_fetch(&set, &items).await?;
            let fetches: Vec<_> = stream.try_collect().await?;
            Ok::<_, anyhow::Error>(
                fetches
                    .iter()
                    .filter_map(|f| {
                        Some(Fetched {
                            uid: f.uid?,
                            raw: f.body()?.to_vec(),
                            internal_date: f.internal_date().map(|d| d.timestamp()),
                        })
                    })
                    .collect::<Vec<_>>(),
            )
        };
        // A batch may be large: allow it several timeouts' worth, still bounded.
        let fetched = within(self.timeout * 4, &self.host, "UID FETCH", fut)
            .await
            .context("fetching messages")?;
        self.drain();
        Ok(fetched)
    }

    /// UIDs in `folder` whose Message-ID header is `message_id` (given without brackets).
    pub async fn find_message_id(&mut self, folder: &str, message_id: &str) -> Result<Vec<u32>> {
        anyhow::ensure!(
            !message_id.contains(['"', '\\', '\r', '\n']),
            "refusing to search for a Message-ID with quotes or line breaks"
        );
        self.examine(folder).await?;
        let inner = &mut self.inner;
        let query = format!("HEADER Message-ID \"<{message_id}>\"");
        let fut = async { Ok::<_, anyhow::Error>(inner.uid_search(&query).await?) };
        let found = within(self.timeout, &self.host, "SEARCH", fut)
            .await
            .with_context(|| format!("searching {folder:?} for <{message_id}>"))?;
        self.drain();
        let mut uids: Vec<u32> = found.into_iter().collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// Appends a draft to `folder` with the `\Draft` and `\Seen` flags.
    pub async fn append_draft(&mut self, folder: &str, raw: &[u8]) -> Result<()> {
        let inner = &mut self.inner;
        let fut = async {
            inner
                .append(folder, Some("(\\Draft \\Seen)"), None, raw)
                .await?;
            Ok::<(), anyhow::Error>(())
        };
        within(self.timeout, &self.host, "APPEND", fut)
            .await
            .with_context(|| format!("appending a draft to {folder:?}"))?;
        self.drain();
        Ok(())
    }

    /// Says goodbye; errors are irrelevant at this point.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.logout()).await;
    }
}

/// Runs one IMAP exchange under a time limit, so a server that stops answering is noticed.
async fn within<T>(
    limit: Duration,
    host: &str,
    what: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!(
            "{what} on {host} timed out after {limit:?}"
        )),
    }
}

/// The textual form of a name attribute, e.g. `\Sent`.
fn attr_name(a: &NameAttribute<'_>) -> String {
    match a {
        NameAttribute::NoInferiors => "\\Noinferiors".into(),
        NameAttribute::NoSelect => "\\Noselect".into(),
        NameAttribute::Marked => "\\Marked".into(),
        NameAttribute::Unmarked => "\\Unmarked".into(),
        NameAttribute::All => "\\All".into(),
        NameAttribute::Archive => "\\Archive".into(),
        NameAttribute::Drafts => "\\Drafts".into(),
        NameAttribute::Flagged => "\\Flagged".into(),
        NameAttribute::Junk => "\\Junk".into(),
        NameAttribute::Sent => "\\Sent".into(),
        NameAttribute::Trash => "\\Trash".into(),
        NameAttribute::Extension(s) => s.to_string(),
        _ => String::new(),
    }
}

/// A compact UID set: "1:5,9,12:13".
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Splits UIDs (with sizes) into batches of at most `max_count` messages and `max_bytes`.
pub fn batches(uids: &[(u32, u32)], max_count: usize, max_bytes: u64) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut bytes = 0u64;
    for &(uid, size) in uids {
        let full = out.last().is_none_or(|b| {
            b.len() >= max_count || (bytes + size as u64 > max_bytes && !b.is_empty())
        });
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size as u64;
        out.last_mut().expect("pushed above").push(uid);
    }
    out
}

/// `user@host:port`, for log lines and errors.
pub fn describe(cfg: &ImapConfig) -> String {
    format!("{}@{}:{}", cfg.username, cfg.host, cfg.port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let uids = [(1, 10), (2, 10), (3, 10), (4, 100), (5, 1)];
        assert_eq!(
            batches(&uids, 2, 1000),
            vec![vec![1, 2], vec![3, 4], vec![5]]
        );
        assert_eq!(
            batches(&uids, 10, 50),
            vec![vec![1, 2, 3], vec![4], vec![5]]
        );
        assert!(batches(&[], 10, 10).is_empty());
    }
}
