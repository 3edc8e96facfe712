//! IMAP framing for the test proxy: a line up to CRLF, and after a line ending in a literal
//! announcement (`{n}`, `{n+}` of RFC 7888, `~{n}` of RFC 3516) n bytes of data that are never
//! read as lines; and the UID item of a FETCH response.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};

/// Reads IMAP framing from one socket. Every error, a black hole included, ends the pump.
pub struct Framer<'a> {
    src: TcpStream,
    /// Set when the connection is black-holed: the read that returns then is an error.
    holed: &'a AtomicBool,
    buf: Vec<u8>,
}

impl<'a> Framer<'a> {
    pub fn new(src: TcpStream, holed: &'a AtomicBool) -> Framer<'a> {
        Framer {
            src,
            holed,
            buf: Vec::new(),
        }
    }

    /// More bytes into `buf`; `false` at EOF.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let read = self.src.read(&mut chunk);
            if self.holed.load(Ordering::SeqCst) {
                return Err(io::Error::other("black-holed"));
            }
            match read {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// One line with its CRLF (or what is left at EOF); `None` at EOF with nothing left.
    pub fn line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Ok(Some(self.buf.drain(..i + 2).collect()));
            }
            if !self.fill()? {
                return Ok((!self.buf.is_empty()).then(|| std::mem::take(&mut self.buf)));
            }
        }
    }

    /// Up to `n` bytes of a literal, as soon as some are there; empty at EOF.
    pub fn some(&mut self, n: usize) -> io::Result<Vec<u8>> {
        if self.buf.is_empty() && !self.fill()? {
            return Ok(Vec::new());
        }
        let take = n.min(self.buf.len());
        Ok(self.buf.drain(..take).collect())
    }
}

/// The size of the literal announced at the end of `line` (`{12}`, `{12+}`, `~{12}`).
pub fn literal(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}\r\n")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The UID a FETCH response carries (`UID 12` among its items), looked for outside literals.
pub fn uid_in(text: &str) -> Option<u32> {
    let upper = text.to_ascii_uppercase();
    let mut from = 0;
    while let Some(i) = upper[from..].find("UID ") {
        let at = from + i;
        let before = upper[..at].chars().last();
        if matches!(before, Some('(' | ' ')) {
            let digits: String = upper[at + 4..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(uid) = digits.parse() {
                return Some(uid);
            }
        }
        from = at + 4;
    }
    None
}
