//! IMAP, the only user of async-imap: connect and log in ([`connect`]), find INBOX, Sent and
//! Drafts ([`folders`], names in modified UTF-7 [`utf7`]), list and fetch what is new after a
//! UID, search a folder for a Message-ID or for stage keywords ([`keywords`]); append, thread and remove our drafts ([`drafts`]). FETCH, SEARCH, LIST and CAPABILITY
//! are read by [`command`], which checks their tagged status; a NO or BAD is an error, never an
//! empty answer. Folders are opened with EXAMINE (read-only) and bodies fetched with
//! `BODY.PEEK`, so tend never marks buyer mail as read; the one SELECT is Drafts, to remove one
//! draft of ours by its recorded UID (`drafts::remove_ours`), and it is EXAMINEd again after. It never calls the store: the daemon
//! saves cursors after the messages are stored.

mod command;
pub mod connect;
mod diagnose;
mod drafts;
mod folders;
mod idle;
mod keywords;
mod large;
mod pipeline;
mod utf7;

use crate::config::{Auth, Folders, ImapConfig, OAuth2};
use crate::oauth2::TokenError;
use anyhow::{Context, Result};
use async_imap::imap_proto::NameAttribute;
pub use command::Refused;
use connect::ImapSession;
pub use connect::LoginError;
pub use drafts::{DraftHeader, DraftsListing, Placed, Removal};
pub use idle::Wake;
pub use keywords::Keyworded;
pub use pipeline::Pipeline;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// The folders a pass works with, by the names a person reads (decoded from modified UTF-7).
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
#[derive(Debug, PartialEq)]
pub struct Fetched {
    pub uid: u32,
    /// The message bytes, at most the cap given to [`Session::fetch`].
    pub raw: Vec<u8>,
    /// INTERNALDATE as Unix seconds: the date to use when the Date header is missing.
    pub internal_date: Option<i64>,
}

/// What a FETCH of some UIDs gave. A UID asked for may be in none of the lists: the server
/// answered nothing for it.
#[derive(Debug, Default)]
pub struct FetchAnswer {
    /// Asked-for messages that came with their body, ascending by UID, each once.
    pub messages: Vec<Fetched>,
    /// Asked-for UIDs the server answered with a NIL body: it has them but did not give them.
    pub nil: Vec<u32>,
    /// The NO or BAD the command ended with, if it did; `messages` holds what came before it.
    pub refused: Option<Refused>,
}

/// A logged-in connection. Used until it errors, then dropped and reopened by the caller.
pub struct Session {
    inner: ImapSession,
    timeout: Duration,
    host: String,
    /// Does the server offer IDLE (RFC 2177)? Without it the daemon polls.
    can_idle: bool,
    /// RFC 4315 UIDPLUS: APPENDUID and UID EXPUNGE. Without it tend never expunges.
    uidplus: bool,
    /// RFC 7888 LITERAL+: APPEND without waiting for a continuation.
    literal_plus: bool,
    /// RFC 6154 SPECIAL-USE with RFC 5258 LIST-EXTENDED: LIST can ask for the attributes.
    list_special_use: bool,
    /// Folder names as read -> as the server spells them, from the last LIST.
    wire: HashMap<String, String>,
}

impl Session {
    /// Connects and logs in with the configured secret.
    pub async fn connect(cfg: &ImapConfig) -> Result<Session, LoginError> {
        let inner = match &cfg.auth {
            Auth::Password(secret) => {
                let password = secret.reveal().context("reading the IMAP password")?;
                connect::login(cfg, connect::Proof::Password(&password)).await?
            }
            Auth::OAuth2(o) => oauth2_login(cfg, o).await?,
        };
        let mut session = Session {
            can_idle: false,
            uidplus: false,
            literal_plus: false,
            list_special_use: false,
            inner,
            timeout: cfg.timeout,
            host: cfg.host.clone(),
            wire: HashMap::new(),
        };
        let [mut idle, mut uidplus, mut literal_plus, mut special, mut extended] = [false; 5];
        let fut = command::run(&mut session.inner, "CAPABILITY", "CAPABILITY", |r| {
            idle |= command::offers(r, "IDLE").unwrap_or(false);
            special |= command::offers(r, "SPECIAL-USE").unwrap_or(false);
            extended |= command::offers(r, "LIST-EXTENDED").unwrap_or(false);
            uidplus |= command::offers(r, "UIDPLUS").unwrap_or(false);
            literal_plus |= command::offers(r, "LITERAL+").unwrap_or(false);
        });
        within(cfg.timeout, &cfg.host, "CAPABILITY", fut)
            .await?
            .context("asking for the server's capabilities")?;
        session.can_idle = idle;
        session.uidplus = uidplus;
        session.literal_plus = literal_plus;
        session.list_special_use = special && extended;
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
    /// well-known name (see [`folders::choose`]). Names come back decoded from modified UTF-7;
    /// the session remembers how the server spells them for later commands.
    pub async fn folders(&mut self, overrides: &Folders) -> Result<FolderNames> {
        let mut listed = Vec::new();
        // RFC 6154: a server may name special-use folders only when asked (Cyrus can be set so).
        let what = if self.list_special_use {
            "LIST \"\" \"*\" RETURN (SPECIAL-USE)"
        } else {
            "LIST \"\" \"*\""
        };
        let fut = command::run(&mut self.inner, what, what, |r| {
            listed.extend(command::list_entry(r))
        });
        within(self.timeout, &self.host, "LIST", fut)
            .await?
            .context("listing folders")?;
        self.wire = listed
            .iter()
            .map(|l| (l.name.clone(), l.wire.clone()))
            .collect();
        folders::choose(&listed, overrides)
    }

    /// How the server spells `folder`: as it listed it, else encoded in modified UTF-7.
    fn wire(&self, folder: &str) -> String {
        self.wire
            .get(folder)
            .cloned()
            .unwrap_or_else(|| utf7::encode(folder))
    }

    /// Opens `folder` read-only.
    pub async fn examine(&mut self, folder: &str) -> Result<FolderState> {
        let wire = self.wire(folder);
        let inner = &mut self.inner;
        let fut = async { Ok::<_, anyhow::Error>(inner.examine(&wire).await?) };
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

    /// UIDs and sizes of the messages after `after` in the open folder, ascending. A NO or
    /// BAD is an error: an empty list means the server said OK and listed nothing.
    pub async fn uids_after(&mut self, after: u32) -> Result<Vec<(u32, u32)>> {
        let cmd = format!("UID FETCH {}:* (UID RFC822.SIZE)", after.saturating_add(1));
        let mut uids = Vec::new();
        let fut = command::run(&mut self.inner, &cmd, &cmd, |r| {
            uids.extend(command::listed_uid(r))
        });
        within(self.timeout, &self.host, "UID FETCH (UID RFC822.SIZE)", fut)
            .await?
            .context("listing new messages")?;
        // "N:*" also matches the highest UID when N is above it (RFC 3501 6.4.8).
        uids.retain(|(uid, _)| *uid > after);
        uids.sort_unstable();
        uids.dedup_by_key(|(uid, _)| *uid);
        Ok(uids)
    }

    /// Fetches the given UIDs of the open folder, each cut at `cap` bytes, without setting
    /// \Seen. A NO or BAD is not an `Err` but in the answer, beside what did come: the caller
    /// compares the answer with what it asked for. `Err` is a lost connection or a timeout.
    pub async fn fetch(&mut self, uids: &[u32], cap: u32) -> Result<FetchAnswer> {
        if uids.is_empty() {
            return Ok(FetchAnswer::default());
        }
        let mut pipe = Pipeline::new(cap);
        self.send_fetch(&mut pipe, uids.to_vec()).await?;
        let answer = self.next_fetched(&mut pipe).await?;
        Ok(answer.map(|(_, a)| a).unwrap_or_default())
    }

    /// UIDs in `folder` whose Message-ID header is `message_id` (given without brackets). A
    /// refused search is an error, never "not there": the caller would write a duplicate.
    pub async fn find_message_id(&mut self, folder: &str, message_id: &str) -> Result<Vec<u32>> {
        anyhow::ensure!(
            !message_id.contains(['"', '\\', '\r', '\n']),
            "refusing to search for a Message-ID with quotes or line breaks"
        );
        self.examine(folder).await?;
        let cmd = format!("UID SEARCH HEADER Message-ID \"<{message_id}>\"");
        let mut uids = Vec::new();
        let fut = command::run(&mut self.inner, &cmd, &cmd, |r| {
            uids.extend(command::search_hits(r).into_iter().flatten())
        });
        within(self.timeout, &self.host, "SEARCH", fut)
            .await
            .and_then(|status| Ok(status?))
            .with_context(|| format!("searching {folder:?} for <{message_id}>"))?;
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// Says goodbye; errors are irrelevant at this point.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.logout()).await;
    }
}

/// Logs in with an access token; a refused one is refreshed once and tried again, since a token
/// can be revoked or end early; refused again, only a new consent (or scope) helps.
async fn oauth2_login(cfg: &ImapConfig, o: &OAuth2) -> Result<ImapSession, LoginError> {
    let token_error = |e: TokenError| match e {
        TokenError::Refused { .. } => LoginError::Refused {
            host: cfg.host.clone(),
            user: cfg.username.clone(),
            message: e.to_string(),
        },
        TokenError::Other(e) => LoginError::Other(e),
    };
    let token = crate::oauth2::access_token(o, false)
        .await
        .map_err(token_error)?;
    match connect::login(cfg, connect::Proof::Bearer(&token)).await {
        Err(LoginError::Refused { message, .. }) => {
            tracing::info!("the server refused the access token ({message}); refreshing it");
            let token = crate::oauth2::access_token(o, true)
                .await
                .map_err(token_error)?;
            match connect::login(cfg, connect::Proof::Bearer(&token)).await {
                Err(LoginError::Refused {
                    host,
                    user,
                    message,
                }) => Err(LoginError::Refused {
                    host,
                    user,
                    message: format!(
                        "{message} (a freshly refreshed access token too: is the scope \
                         right?); run `tend auth {}` again",
                        o.mailbox
                    ),
                }),
                other => other,
            }
        }
        other => other,
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

/// Splits UIDs (with sizes) into batches of at most `max_count` messages and `max_bytes` (a
/// message larger than that alone), lazily: nothing is held but the batch being cut.
pub fn batches(
    uids: &[(u32, u32)],
    max_count: usize,
    max_bytes: u64,
) -> impl Iterator<Item = Vec<u32>> + '_ {
    let mut rest = uids;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0u64;
        let mut n = 0;
        while n < rest.len() && n < max_count.max(1) {
            let size = rest[n].1 as u64;
            if n > 0 && bytes + size > max_bytes {
                break;
            }
            bytes += size;
            n += 1;
        }
        let (batch, later) = rest.split_at(n);
        rest = later;
        Some(batch.iter().map(|(uid, _)| *uid).collect())
    })
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
        let cut = |count, bytes| batches(&uids, count, bytes).collect::<Vec<_>>();
        assert_eq!(cut(2, 1000), vec![vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(cut(10, 50), vec![vec![1, 2, 3], vec![4], vec![5]]);
        assert_eq!(batches(&[], 10, 10).count(), 0);
    }
}
