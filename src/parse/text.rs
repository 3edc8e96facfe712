//! The text body of a message: which MIME parts count as the text (mail-parser's choice,
//! text/plain preferred), RFC 3676 format=flowed, the HTML-to-text converter, and the
//! [`TEXT_CAP`] that bounds everything downstream. It does not decide which words are new
//! (`quote` does) and never looks at headers beyond a part's Content-Type.

use mail_parser::{Message, MimeHeaders, PartType};

/// Largest text body kept per message, in bytes.
pub const TEXT_CAP: usize = 64 * 1024;

/// Largest HTML part fed to the HTML-to-text conversion, in bytes (HTML is verbose).
const HTML_CAP: usize = 1024 * 1024;

/// The text body: mail-parser's text bodies (text/plain preferred inside alternatives, HTML
/// converted when there is no plain part), CRLF normalised, capped at [`TEXT_CAP`].
pub(super) fn body_text(msg: &Message<'_>) -> String {
    let mut out = String::new();
    for &id in &msg.text_body {
        if out.len() >= TEXT_CAP {
            break;
        }
        let Some(part) = msg.parts.get(id as usize) else {
            continue;
        };
        let piece = match &part.body {
            PartType::Text(t) => {
                let ct = part.content_type();
                let flowed = ct
                    .and_then(|c| c.attribute("format"))
                    .is_some_and(|f| f.eq_ignore_ascii_case("flowed"));
                let delsp = ct
                    .and_then(|c| c.attribute("delsp"))
                    .is_some_and(|f| f.eq_ignore_ascii_case("yes"));
                let t = normalize_newlines(cap(t, TEXT_CAP + 1));
                if flowed {
                    unflow(&t, delsp)
                } else {
                    t
                }
            }
            PartType::Html(h) => html_to_text(cap(h, HTML_CAP)),
            _ => continue,
        };
        let piece = piece.trim_matches('\n');
        if piece.trim().is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(piece);
    }
    let keep = cap(&out, TEXT_CAP).len();
    out.truncate(keep);
    out
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// RFC 3676 format=flowed: joins soft-broken lines (trailing space) of equal quote depth and
/// removes space-stuffing. The signature separator "-- " is never a soft break.
pub fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<usize> = None; // quote depth of an unfinished flowed line
    for line in text.split('\n') {
        let depth = line.chars().take_while(|&c| c == '>').count();
        let mut body = &line[depth..];
        if body.starts_with(' ') {
            body = &body[1..];
        }
        match open {
            Some(d) if d == depth => {}
            Some(_) => {
                out.push('\n');
                out.push_str(&">".repeat(depth));
                if depth > 0 {
                    out.push(' ');
                }
            }
            None => {
                out.push_str(&">".repeat(depth));
                if depth > 0 {
                    out.push(' ');
                }
            }
        }
        let soft = body.ends_with(' ') && body != "-- ";
        if soft {
            out.push_str(if delsp { &body[..body.len() - 1] } else { body });
            open = Some(depth);
        } else {
            out.push_str(body);
            out.push('\n');
            open = None;
        }
    }
    if out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Tags that start a new line in a browser.
const BLOCK_TAGS: &[&str] = &[
    "div",
    "p",
    "blockquote",
    "tr",
    "li",
    "ul",
    "ol",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "pre",
    "dd",
    "dt",
    "center",
    "address",
    "section",
    "article",
    "header",
    "footer",
];

/// The `>` that ends the tag opening at `start`, skipping quoted attribute values, so
/// `<a title="a>b">` ends at its last `>` as a browser reads it. A quote counts only right
/// after `=`, so an apostrophe elsewhere in a tag does not swallow the text.
fn tag_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    let mut after_eq = false;
    while i < bytes.len() {
        match bytes[i] {
            b'>' => return Some(i),
            q @ (b'"' | b'\'') if after_eq => {
                i += 1 + bytes[i + 1..].iter().position(|&c| c == q)?;
                after_eq = false;
            }
            b'=' => after_eq = true,
            c if c.is_ascii_whitespace() => {}
            _ => after_eq = false,
        }
        i += 1;
    }
    None
}

/// Elements whose content is never shown.
const HIDDEN_TAGS: &[&str] = &["head", "style", "script", "title", "template"];

/// HTML -> readable text, the way a mail client renders an HTML body as plain text: line breaks
/// at <br> and block tags, whitespace collapsed, entities decoded, <blockquote> content prefixed
/// with "> " per level. (mail-parser's own converter breaks lines only at <br> and </p> and
/// drops the space after a tag that follows a <br>, e.g. "<br><b>Sent:</b> Mon" -> "Sent:Mon".)
pub fn html_to_text(html: &str) -> String {
    struct Out {
        lines: Vec<String>,
        cur: String,
        depth: usize,
        space: bool,
        /// Bytes in `lines`; conversion stops past [`TEXT_CAP`].
        len: usize,
    }
    impl Out {
        fn word(&mut self, w: &str) {
            if self.space && !self.cur.is_empty() {
                self.cur.push(' ');
            }
            self.space = false;
            self.cur.push_str(w);
        }
        fn flush(&mut self) {
            let text = self.cur.trim();
            let mut line = "> ".repeat(self.depth);
            line.push_str(text);
            let line = line.trim_end().to_string();
            self.len += line.len() + 1;
            self.lines.push(line);
            self.cur.clear();
            self.space = false;
        }
        fn block(&mut self) {
            if !self.cur.trim_matches([' ', '\t']).is_empty() {
                self.flush();
            }
            self.cur.clear();
            self.space = false;
        }
    }

    let lower = html.to_ascii_lowercase();
    let bytes = html.as_bytes();
    let mut out = Out {
        lines: Vec::new(),
        cur: String::new(),
        depth: 0,
        space: false,
        len: 0,
    };
    let mut i = 0;
    let mut word_start: Option<usize> = None;
    let mut unclosed = [false; HIDDEN_TAGS.len()];
    while i < bytes.len() && out.len <= TEXT_CAP && out.cur.len() <= TEXT_CAP {
        let b = bytes[i];
        let tag_like = b == b'<'
            && bytes
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'/' | b'!' | b'?'));
        if tag_like || b.is_ascii_whitespace() || b == b'&' {
            if let Some(ws) = word_start.take() {
                out.word(&html[ws..i]);
            }
        }
        if b.is_ascii_whitespace() {
            out.space = true;
            i += 1;
            continue;
        }
        if b == b'&' {
            let end = bytes[i + 1..]
                .iter()
                .take(32)
                .position(|&c| c == b';' || !(c.is_ascii_alphanumeric() || c == b'#'))
                .map(|p| i + 1 + p);
            if let Some(end) = end.filter(|&e| bytes[e] == b';' && e > i + 1) {
                let mut s = String::new();
                mail_parser::decoders::html::add_html_token(&mut s, &bytes[i..=end], false);
                out.word(&s);
                i = end + 1;
            } else {
                out.word("&");
                i += 1;
            }
            // An entity glues to the following text ("&lt;a@b&gt;").
            continue;
        }
        if !tag_like {
            if word_start.is_none() {
                word_start = Some(i);
            }
            // Advance by whole chars so slices stay on char boundaries.
            i += html[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        // A tag or comment.
        if lower[i..].starts_with("<!--") {
            i = lower[i + 4..]
                .find("-->")
                .map_or(bytes.len(), |p| i + 4 + p + 3);
            continue;
        }
        let Some(close) = tag_end(bytes, i) else {
            break; // unterminated tag at the end: drop it
        };
        let inner = &lower[i + 1..close];
        let closing = inner.starts_with('/');
        let name: String = inner
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        i = close + 1;
        if let Some(h) = HIDDEN_TAGS
            .iter()
            .position(|t| *t == name)
            .filter(|_| !closing)
        {
            // Skip to the closing tag. Once a close is missing it stays missing, so remember
            // that: hostile input with many unclosed <style> tags stays linear.
            if !unclosed[h] {
                match lower[i..].find(&format!("</{name}")) {
                    Some(p) => {
                        let end = i + p;
                        i = lower[end..].find('>').map_or(bytes.len(), |q| end + q + 1);
                    }
                    None => unclosed[h] = true,
                }
            }
            continue;
        }
        match name.as_str() {
            "br" => out.flush(),
            "blockquote" => {
                out.block();
                out.depth = if closing {
                    out.depth.saturating_sub(1)
                } else {
                    (out.depth + 1).min(32)
                };
            }
            "td" | "th" => out.space = true,
            n if BLOCK_TAGS.contains(&n) => out.block(),
            _ => {}
        }
    }
    if let Some(ws) = word_start {
        out.word(&html[ws..]);
    }
    out.block();

    let mut text = String::with_capacity(html.len().min(TEXT_CAP));
    let mut blank = false;
    for line in &out.lines {
        let line = line.replace('\u{a0}', " ");
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank = !text.is_empty();
            continue;
        }
        if blank {
            text.push('\n');
            blank = false;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(line);
        if text.len() > TEXT_CAP {
            break;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    #[test]
    fn huge_body_is_capped_on_a_char_boundary() {
        let mut raw = b"From: a@example.com\r\nSubject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n".to_vec();
        while raw.len() < 5 * 1024 * 1024 {
            raw.extend_from_slice("héllo wörld — ".as_bytes());
        }
        let e = parse(&raw).unwrap();
        assert!(e.text.len() <= TEXT_CAP);
        assert!(e.text.len() > TEXT_CAP - 8);
        assert!(e.new_text.len() <= TEXT_CAP);

        for unit in [
            &b"<div>hello <b>world</b></div>"[..],
            b"<style>",
            b"<!--",
            b"&amp;&#1;&lt",
            b"<blockquote>",
        ] {
            let mut html = b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n".to_vec();
            while html.len() < 5 * 1024 * 1024 {
                html.extend_from_slice(unit);
            }
            let e = parse(&html).unwrap();
            assert!(e.text.len() <= TEXT_CAP);
        }
    }

    #[test]
    fn unflow_joins_soft_breaks() {
        assert_eq!(
            unflow("Hello \nworld\n-- \nsig", false),
            "Hello world\n-- \nsig"
        );
        assert_eq!(unflow("> a \n> b\nc", false), "> a b\nc");
        assert_eq!(unflow("ab \ncd", true), "abcd");
    }

    #[test]
    fn html_block_tags_break_lines() {
        assert_eq!(
            html_to_text("<div>One</div><div>Two &amp; three</div><p>Four</p>"),
            "One\nTwo & three\nFour"
        );
        let table: &[(&str, &str)] = &[
            ("<br><b>Sent:</b> Mon", "Sent: Mon"),
            ("<div>a</div><div><br></div><div>b</div>", "a\n\nb"),
            ("<p>a</p><p>&nbsp;</p><p>b</p>", "a\n\nb"),
            ("x<blockquote>q<br>r</blockquote>y", "x\n> q\n> r\ny"),
            (
                "<head><style>p{}</style><title>T</title></head>Hi&nbsp;you &lt;a@b&gt;",
                "Hi you <a@b>",
            ),
            ("a < b &amp c &#233;&#x20AC;", "a < b &amp c é€"),
            (
                "<!-- c --><table><tr><td>1</td><td>2</td></tr></table>",
                "1 2",
            ),
            ("<div", ""),
            ("&#99999999999;&bogus;", "&#99999999999;&bogus;"),
        ];
        for (input, want) in table {
            assert_eq!(html_to_text(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn a_gt_inside_an_attribute_does_not_end_the_tag() {
        let table: &[(&str, &str)] = &[
            ("<a title=\"a>b\" href='x>y'>link</a> text", "link text"),
            ("<p class=it's>don't</p>", "don't"),
            ("<img alt=\"unclosed>rest", ""),
        ];
        for (input, want) in table {
            assert_eq!(html_to_text(input), *want, "input {input:?}");
        }
    }
}
