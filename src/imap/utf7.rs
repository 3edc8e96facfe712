//! Modified UTF-7, the form IMAP gives folder names in (RFC 3501 5.1.3): printable ASCII
//! stands for itself except `&`, written `&-`; any other run of characters is `&`, the run's
//! UTF-16BE code units in base64 with `,` for `/` and no padding, then `-`. `Entwürfe` is
//! `Entw&APw-rfe` on the wire. Pure functions; the session decodes LIST answers with them and
//! encodes the names it sends.
//!
//! Written here rather than taken from the `utf7-imap` crate: that one panics on a malformed
//! name (an `unwrap` on its base64 decoding) and pulls in regex and an old base64 for 60 lines.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// The folder name a person reads, or `None` when `wire` is not valid modified UTF-7 (the
/// caller then keeps the name as the server sent it). Bytes outside ASCII pass through: a
/// server with UTF8=ACCEPT (RFC 6855) may send UTF-8 as it is.
pub fn decode(wire: &str) -> Option<String> {
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find('-')?;
        let run = &after[..end];
        if run.is_empty() {
            out.push('&');
        } else {
            let units = base64_units(run)?;
            for c in char::decode_utf16(units) {
                out.push(c.ok()?);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The wire form of a folder name.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Writes a pending run of UTF-16 units as `&...-` and empties it.
fn flush(run: &mut Vec<u16>, out: &mut String) {
    if run.is_empty() {
        return;
    }
    let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        // 1 byte gives 2 characters, 2 give 3, 3 give 4; no `=` padding.
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out.push('-');
    run.clear();
}

/// The UTF-16 code units of one base64 run, or `None` if it is not valid: a character outside
/// the alphabet, an odd number of bytes, or stray bits left over.
fn base64_units(run: &str) -> Option<Vec<u16>> {
    let mut bytes = Vec::with_capacity(run.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in run.bytes() {
        let v = ALPHABET.iter().position(|&a| a == b)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 || acc != 0 || bytes.len() % 2 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_decode_and_encode_both_ways() {
        // RFC 3501 5.1.3's own example, and names tend looks for.
        let table = [
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Envoyés", "Envoy&AOk-s"),
            ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
            ("théâtre", "th&AOkA4g-tre"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("INBOX.Sent", "INBOX.Sent"),
            ("😀", "&2D3eAA-"),
            ("", ""),
        ];
        for (name, wire) in table {
            assert_eq!(encode(name), wire, "encode {name:?}");
            assert_eq!(decode(wire).as_deref(), Some(name), "decode {wire:?}");
        }
    }

    #[test]
    fn malformed_names_are_refused_not_panicked_on() {
        for wire in [
            "Entw&APw",    // no closing '-'
            "a&!!-",       // outside the alphabet
            "a&AP-",       // 12 bits: one byte and stray bits
            "a&APw,-",     // stray bits set
            "a&2D0-",      // half a surrogate pair
            "a&AOkA-",     // odd number of bytes
            "&&&&&&&&&&-", // '&' is not in the alphabet
        ] {
            assert_eq!(decode(wire), None, "{wire:?}");
        }
    }

    #[test]
    fn utf8_sent_as_is_passes_through() {
        assert_eq!(decode("Entwürfe").as_deref(), Some("Entwürfe"));
    }

    #[test]
    fn every_string_survives_a_round_trip() {
        let samples = [
            "a&b",
            "&",
            "&-",
            "x\u{1}y",
            "ä ö ü ß",
            "a\u{7f}b",
            "日本語 & 한국어",
        ];
        for s in samples {
            assert_eq!(decode(&encode(s)).as_deref(), Some(s), "{s:?}");
        }
    }
}
