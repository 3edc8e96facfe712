//! The messages' bodies, in an append-only file inside the store's directory (`texts`), so
//! that sled holds only small entries. Measured with sled 0.34 alone, 200,000 random-keyed
//! inserts: 6.3 s with empty values, 18.2 s and 7.7x the bytes on disk with 800-byte values (a
//! leaf is copied whole on every change, and sled's log keeps old copies until it cleans a
//! segment); a file that is only appended to writes each byte once. A frame is a CRC-32 of its
//! payload and the payload, one deflate stream of the message's headers (an `Email` without
//! its texts, as JSON) followed by its two texts, so that judging a thread inflates only the
//! first few hundred bytes of each frame ([`Texts::read_head`]: the review of a synced 200k
//! mailbox spent a third of its CPU inflating texts it never looked at). A frame written
//! before that (the whole `Email` as one JSON) still reads. sled's entry (`record`) says where
//! the frame is and how long. A frame is written, and made durable, before the transaction that
//! names it commits, so an entry never points past what is on disk; a frame that no entry names
//! (a transaction retried or cut short, a list copy replaced by the direct one) is dead weight,
//! gone at the next rebuild.
//!
//! It does not know which message a frame holds nor whether a frame is still named: `filing`
//! and `record` do.

use super::payload::{inflate, Inflated, HEAD_FIRST};
use crate::parse::Email;
use anyhow::{Context, Result};
use miniz_oxide::deflate::core::{
    compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The file's name inside sled's directory: it moves with the store when a damaged or old
/// store is moved aside.
const NAME: &str = "texts";
/// The tree, and its one key, of the file's length as of the last filing that committed:
/// written in the same transaction as the entries, so a file shorter than it (deleted, or
/// restored from an older backup than sled's files) is known at open (`format`).
pub(super) const END_TREE: &str = "texts_end";
pub(super) const END_KEY: &[u8] = b"end";

/// Are frames that committed entries name missing from the file of the store in `db`?
pub(super) fn lost(db: &sled::Db, dir: &Path) -> Result<bool> {
    let ends = db
        .open_tree(END_TREE)
        .with_context(|| format!("opening tree {END_TREE} in {}", dir.display()))?;
    let Some(end) = ends.get(END_KEY).context("reading the texts' length")? else {
        return Ok(false);
    };
    let end = <[u8; 8]>::try_from(end.as_ref()).map_or(0, u64::from_be_bytes);
    let len = std::fs::metadata(dir.join(NAME)).map_or(0, |m| m.len());
    Ok(len < end)
}

/// miniz_oxide's fastest level: on the 50,000 messages of the 50k bench mailbox (86 MB of
/// JSON) level 1 made 39.8 MB in 2.1 s of CPU, level 6 36.3 MB in 2.9 s.
const LEVEL: u8 = 1;
/// A payload inflates to at most this: text is capped at parse time (`parse::TEXT_CAP`), so a
/// larger one is damage, not mail.
const MAX_INFLATED: usize = 16 * 1024 * 1024;
/// A frame is at most this long on disk (what deflate makes of [`MAX_INFLATED`] and more).
const MAX_FRAME: u32 = 20 * 1024 * 1024;

/// Where a message's frame is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TextRef {
    pub(super) offset: u64,
    pub(super) len: u32,
}

/// The open file, shared by every clone of the store.
#[derive(Clone)]
pub(super) struct Texts {
    path: PathBuf,
    /// Reads use positioned reads on the file and take no lock; the lock is the one writer's.
    file: Arc<File>,
    writer: Arc<Mutex<()>>,
}

/// A text that is named by an entry but cannot be read back: the store is damaged.
#[derive(Debug)]
pub(super) struct TextsDamaged(String);

impl std::fmt::Display for TextsDamaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TextsDamaged {}

/// Frames of one batch, written together by [`Appending::write`].
pub(super) struct Appending<'a> {
    texts: &'a Texts,
    _lock: MutexGuard<'a, ()>,
    base: u64,
    buf: Vec<u8>,
    deflate: Option<Deflate>,
}

/// One compressor for many messages: making one zeroes about 300 KB of tables, which was 3-6%
/// of a first sync's CPU when each message got its own.
struct Deflate(Box<CompressorOxide>);

impl Deflate {
    fn new() -> Deflate {
        // Window bits 0: raw deflate, as `inflate::decompress_to_vec` reads it.
        let flags = create_comp_flags_from_zip_params(LEVEL.into(), 0, 0);
        Deflate(Box::new(CompressorOxide::new(flags)))
    }

    /// Appends `email`'s frame (checksum, then payload) to `out`.
    fn frame(&mut self, email: &Email, out: &mut Vec<u8>) {
        self.deflate(&Inflated::of(email), out);
    }

    /// Appends the frame of the inflated payload `raw` to `out`.
    fn deflate(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        self.0.reset();
        let (status, _) = compress_to_output(&mut self.0, raw, TDEFLFlush::Finish, |chunk| {
            out.extend_from_slice(chunk);
            true
        });
        // Compressing into a growing Vec has no way to fail.
        debug_assert_eq!(status, TDEFLStatus::Done);
        let crc = crc32fast::hash(&out[start + 4..]);
        out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
    }
}

/// The frames of a batch of messages, in order.
pub(super) struct Frames {
    bytes: Vec<u8>,
    /// Where each message's frame ends in `bytes`.
    ends: Vec<usize>,
}

/// A batch of messages with their frames, made before the batch is filed, on whatever thread
/// has the time: deflating is about a tenth of the storing thread's work, and that thread is
/// a first sync's critical path. The two come together, so no message is filed with
/// another's frame.
pub struct Framed {
    emails: Vec<Email>,
    pub(super) frames: Frames,
}

impl Framed {
    pub fn new(emails: Vec<Email>) -> Framed {
        let frames = Frames::of(&emails);
        Framed { emails, frames }
    }

    pub fn emails(&self) -> &[Email] {
        &self.emails
    }
}

impl Frames {
    /// The frames of `emails`, in order.
    pub fn of(emails: &[Email]) -> Frames {
        let mut deflate = Deflate::new();
        let mut f = Frames {
            bytes: Vec::new(),
            ends: Vec::with_capacity(emails.len()),
        };
        for e in emails {
            deflate.frame(e, &mut f.bytes);
            f.ends.push(f.bytes.len());
        }
        f
    }

    /// The frame of the `i`th message.
    pub(super) fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.bytes[start..end])
    }
}

impl Texts {
    /// Opens (or creates) the file in sled's directory `db`.
    pub(super) fn open(db: &Path) -> Result<Texts> {
        let path = db.join(NAME);
        let new = !path.exists();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        if new {
            // The file's name is durable too before any entry can name a frame in it.
            File::open(db)
                .and_then(|d| d.sync_all())
                .with_context(|| format!("syncing {}", db.display()))?;
        }
        Ok(Texts {
            path,
            file: Arc::new(file),
            writer: Arc::new(Mutex::new(())),
        })
    }

    /// The file's length now.
    pub(super) fn len(&self) -> Result<u64> {
        Ok(self
            .file
            .metadata()
            .with_context(|| format!("reading the size of {}", self.path.display()))?
            .len())
    }

    /// Starts a batch of frames; other writers wait until it is dropped.
    pub(super) fn appending(&self) -> Result<Appending<'_>> {
        // A poisoned lock guards nothing but the order of writes: the file is whole.
        let lock = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(Appending {
            texts: self,
            _lock: lock,
            base: self.len()?,
            buf: Vec::new(),
            deflate: None,
        })
    }

    /// The message whose frame `at` names, read as far as `part` asks.
    fn read_part(&self, at: TextRef, part: Part) -> Result<Email> {
        let damaged = |what: &str| {
            anyhow::Error::new(TextsDamaged(format!(
                "the text of a stored message in {} {what}: the store is damaged (stop tend and \
                 delete that file; the next start rebuilds the messages from the mailboxes and \
                 keeps the draft ledger)",
                self.path.display()
            )))
        };
        if at.len < 4 || at.len > MAX_FRAME {
            return Err(damaged("has an impossible length"));
        }
        let mut frame = vec![0; at.len as usize];
        self.file
            .read_exact_at(&mut frame, at.offset)
            .map_err(|_| damaged("is missing"))?;
        let (crc, payload) = frame.split_at(4);
        if crc32fast::hash(payload).to_le_bytes() != crc {
            return Err(damaged("does not match its checksum"));
        }
        let raw = match part {
            Part::Whole => {
                inflate(payload, MAX_INFLATED).map_err(|_| damaged("does not inflate"))?
            }
            Part::Head | Part::Said => {
                // Inflated again from the start, longer each time, until what `part` needs is
                // in: the headers' length says where they end, `new_text`'s length (after them)
                // where it ends. At most three inflations, of a few hundred bytes mostly.
                let mut limit = HEAD_FIRST;
                loop {
                    let got = match inflate(payload, limit) {
                        Ok(raw) => break raw,
                        Err(Some(got)) => got,
                        Err(None) => return Err(damaged("does not inflate")),
                    };
                    let need = Inflated::needs(&got, part == Part::Said)
                        .ok_or_else(|| damaged("has an impossible length"))?;
                    if need <= got.len() {
                        break got;
                    }
                    if need == usize::MAX {
                        // Written before the headers came first: read whole.
                        break inflate(payload, MAX_INFLATED)
                            .map_err(|_| damaged("does not inflate"))?;
                    }
                    if need > MAX_INFLATED {
                        return Err(damaged("has an impossible length"));
                    }
                    limit = need;
                }
            }
        };
        let email = match part {
            Part::Whole => Inflated::email(&raw),
            Part::Head => Inflated::head(&raw),
            Part::Said => Inflated::said(&raw),
        };
        email.map_err(damaged)
    }

    /// The message whose frame `at` names.
    pub(super) fn read(&self, at: TextRef) -> Result<Email> {
        self.read_part(at, Part::Whole)
    }

    /// The message whose frame `at` names without its texts ([`Email::without_text`]),
    /// inflating only the headers of a frame that has them first.
    pub(super) fn read_head(&self, at: TextRef) -> Result<Email> {
        self.read_part(at, Part::Head)
    }

    /// The message whose frame `at` names with its headers and `new_text`, `text` (the whole
    /// body, quotes included) left empty and not inflated.
    pub(super) fn read_said(&self, at: TextRef) -> Result<Email> {
        self.read_part(at, Part::Said)
    }
}

/// How much of a frame a read inflates.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Whole,
    /// The headers ([`Inflated::head`]).
    Head,
    /// The headers and `new_text` ([`Inflated::said`]).
    Said,
}

impl Appending<'_> {
    /// Adds a frame for `email`, to be written by [`Appending::write`]; where it will be.
    pub(super) fn push(&mut self, email: &Email) -> TextRef {
        let start = self.buf.len();
        self.deflate
            .get_or_insert_with(Deflate::new)
            .frame(email, &mut self.buf);
        self.placed(start)
    }

    /// Adds a frame made beforehand ([`Frames`]).
    pub(super) fn push_frame(&mut self, frame: &[u8]) -> TextRef {
        let start = self.buf.len();
        self.buf.extend_from_slice(frame);
        self.placed(start)
    }

    /// Where the frame that starts at `start` of the buffer will be in the file.
    fn placed(&self, start: usize) -> TextRef {
        TextRef {
            offset: self.base + start as u64,
            len: (self.buf.len() - start) as u32,
        }
    }

    /// Forgets the frames pushed so far (a transaction that sled runs again) and starts
    /// again at the file's end.
    pub(super) fn restart(&mut self) -> Result<()> {
        self.buf.clear();
        self.base = self.texts.len()?;
        Ok(())
    }

    /// The file's length once the frames pushed are written.
    pub(super) fn end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Writes the frames pushed and makes them durable: the entries naming them may commit.
    pub(super) fn write(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let path = &self.texts.path;
        (&*self.texts.file)
            .write_all(&self.buf)
            .with_context(|| format!("writing message texts to {}", path.display()))?;
        self.texts
            .file
            .sync_data()
            .with_context(|| format!("syncing {}", path.display()))?;
        self.base += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(text: &str) -> Email {
        crate::parse::parse(
            format!("Message-ID: <a@b>\r\nFrom: x@y.test\r\nSubject: Hi\r\n\r\n{text}\r\n")
                .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn frames_read_back_and_are_deflated() {
        let dir = tempfile::tempdir().unwrap();
        let texts = Texts::open(dir.path()).unwrap();
        let long = email(&"The 50-seat plan, the licence and the onboarding. ".repeat(40));
        let short = email("Hello");
        let mut a = texts.appending().unwrap();
        let (r1, r2) = (a.push(&long), a.push(&short));
        a.write().unwrap();
        drop(a);
        assert!(r1.len * 3 < long.text.len() as u32, "{}", r1.len);
        assert_eq!(r2.offset, u64::from(r1.len));
        assert_eq!(texts.read(r1).unwrap(), long);
        assert_eq!(texts.read(r2).unwrap(), short);
        // Frames made beforehand are the same bytes, and read back the same.
        let made = Frames::of(&[long.clone(), short.clone()]);
        let mut a = texts.appending().unwrap();
        let (r3, r4) = (
            a.push_frame(made.get(0).unwrap()),
            a.push_frame(made.get(1).unwrap()),
        );
        assert!(made.get(2).is_none());
        a.write().unwrap();
        drop(a);
        assert_eq!((r3.len, r4.len), (r1.len, r2.len));
        assert_eq!(texts.read(r3).unwrap(), long);
        assert_eq!(texts.read(r4).unwrap(), short);
        // Reopened, the frames are where they were and new ones go after them.
        let again = Texts::open(dir.path()).unwrap();
        assert_eq!(again.read(r2).unwrap(), short);
        let mut a = again.appending().unwrap();
        assert_eq!(a.push(&short).offset, r4.offset + u64::from(r4.len));
    }

    #[test]
    fn the_headers_read_alone_and_a_frame_written_before_they_came_first_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let texts = Texts::open(dir.path()).unwrap();
        let long = email(&"The 50-seat plan, the licence and the onboarding. ".repeat(200));
        let mut short = email("Hello");
        // Headers longer than the first look: inflated again to where they end.
        short.references = (0..200).map(|i| format!("ref{i}@thread.example")).collect();
        assert!(serde_json::to_vec(&short.without_text()).unwrap().len() > HEAD_FIRST);
        // As tend wrote frames before the headers came first: the whole message as JSON.
        let mut before = Vec::new();
        Deflate::new().deflate(&serde_json::to_vec(&long).unwrap(), &mut before);
        let mut a = texts.appending().unwrap();
        let (r1, r2, r3) = (a.push(&long), a.push(&short), a.push_frame(&before));
        a.write().unwrap();
        drop(a);
        for (at, e) in [(r1, &long), (r2, &short), (r3, &long)] {
            assert_eq!(&texts.read(at).unwrap(), e);
            let head = texts.read_head(at).unwrap();
            assert_eq!(head, e.without_text());
            assert!(head.text.is_empty() && head.new_text.is_empty());
            assert_eq!(head.references, e.references);
        }
        // The headers first: a frame whose texts are cut off reads as headers, not whole.
        let raw = Inflated::of(&long);
        let end = Inflated::head_end(&raw).unwrap();
        let mut cut = Vec::new();
        Deflate::new().deflate(&raw[..end + 2], &mut cut);
        let mut a = texts.appending().unwrap();
        let r4 = a.push_frame(&cut);
        a.write().unwrap();
        drop(a);
        assert_eq!(texts.read_head(r4).unwrap(), long.without_text());
        let err = texts.read(r4).unwrap_err();
        assert!(err.downcast_ref::<TextsDamaged>().is_some(), "{err:#}");
    }

    #[test]
    fn what_a_message_said_reads_without_the_text_it_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let texts = Texts::open(dir.path()).unwrap();
        // Quotes that do not compress away, so half the deflated frame ends inside them.
        let mut seed = 7u64;
        let quoted: String = (0..400)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!("> licence {:016x}\r\n", seed)
            })
            .collect();
        let reply = email(&format!(
            "Yes, EUR 12,000 works for us.\r\n\r\nOn Mon, Ana wrote:\r\n{quoted}"
        ));
        assert!(reply.new_text.contains("EUR 12,000") && !reply.new_text.contains("licence"));
        assert!(reply.text.len() > 10 * reply.new_text.len());
        // A new text longer than the first look: inflated again to where it ends.
        let long = email(&"We would like 50 seats, starting in March. ".repeat(200));
        assert!(long.new_text.len() > HEAD_FIRST);
        let mut before = Vec::new();
        Deflate::new().deflate(&serde_json::to_vec(&reply).unwrap(), &mut before);
        // The deflated frame of `reply` cut in half, inside its quotes: what it said still
        // reads, so reading it never inflates the quotes; read whole, it is damage.
        let mut cut = Vec::new();
        Deflate::new().deflate(&Inflated::of(&reply), &mut cut);
        cut.truncate(cut.len() / 2);
        let crc = crc32fast::hash(&cut[4..]);
        cut[..4].copy_from_slice(&crc.to_le_bytes());
        let mut a = texts.appending().unwrap();
        let (r1, r2, r3, r4) = (
            a.push(&reply),
            a.push(&long),
            a.push_frame(&before),
            a.push_frame(&cut),
        );
        a.write().unwrap();
        drop(a);
        for (at, e) in [(r1, &reply), (r2, &long), (r3, &reply), (r4, &reply)] {
            let said = texts.read_said(at).unwrap();
            assert_eq!(said.new_text, e.new_text);
            assert!(said.text.is_empty());
            assert_eq!(said.without_text(), e.without_text());
        }
        let err = texts.read(r4).unwrap_err();
        assert!(err.downcast_ref::<TextsDamaged>().is_some(), "{err:#}");
    }

    #[test]
    fn a_restarted_batch_starts_at_the_end_and_unwritten_frames_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let texts = Texts::open(dir.path()).unwrap();
        let e = email("Hello");
        let mut a = texts.appending().unwrap();
        let lost = a.push(&e);
        a.restart().unwrap();
        let kept = a.push(&e);
        assert_eq!(kept, lost, "nothing was written: the same place");
        a.write().unwrap();
        let past = a.push(&e);
        drop(a);
        let err = texts.read(past).unwrap_err();
        assert!(err.downcast_ref::<TextsDamaged>().is_some(), "{err:#}");
    }

    #[test]
    fn damage_is_an_error_never_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let texts = Texts::open(dir.path()).unwrap();
        let mut a = texts.appending().unwrap();
        let at = a.push(&email("Hello"));
        a.write().unwrap();
        drop(a);
        // A flipped byte in the payload.
        let path = dir.path().join(NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let texts = Texts::open(dir.path()).unwrap();
        for bad in [
            at,
            TextRef { offset: 0, len: 2 },
            TextRef {
                offset: u64::MAX - 8,
                len: 8,
            },
            TextRef {
                offset: 0,
                len: MAX_FRAME + 1,
            },
        ] {
            let err = texts.read(bad).unwrap_err();
            assert!(err.downcast_ref::<TextsDamaged>().is_some(), "{err:#}");
        }
    }
}
