//! What a prompt is made of, for `tend explain`: each message's size, and inside it each
//! delimited block (`<thread>`, and whatever else the prompt builder delimits: related threads,
//! a knowledge file, voice examples) with its opening tag and size, and the messages inside a
//! thread. Pure, and read from the messages themselves, so it describes what `prompt::build`
//! really wrote whatever parts it adds, without the builder having to report them.

use crate::llm::{ChatMessage, Role};

/// One line per part: `"system: 2,310 chars (~578 tokens)"`, `"  <thread>: 1,204 chars, 2
/// messages"`, ... Token counts are estimates (4 characters a token).
pub fn describe(messages: &[ChatMessage]) -> Vec<String> {
    let mut out = Vec::new();
    let total: usize = messages.iter().map(|m| m.content.chars().count()).sum();
    out.push(format!("whole prompt: {}", size(total)));
    for m in messages {
        let role = match m.role {
            Role::System => "system",
            Role::User => "user",
        };
        out.push(format!("{role}: {}", size(m.content.chars().count())));
        for block in blocks(&m.content) {
            out.push(format!("  {block}"));
        }
    }
    out
}

/// "1,204 chars (~301 tokens)".
fn size(chars: usize) -> String {
    format!(
        "{} chars (~{} tokens)",
        thousands(chars),
        thousands(chars.div_ceil(4))
    )
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The top-level `<name ...>...</name>` blocks of `text`, described.
fn blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        let Some(open_end) = after.find('>') else {
            break;
        };
        let close = format!("</{name}>");
        let inner_start = i + 1 + open_end + 1;
        match (name.is_empty(), rest[inner_start..].find(&close)) {
            (false, Some(j)) => {
                let opening = &rest[i..inner_start];
                let inner = &rest[inner_start..inner_start + j];
                let messages = inner.matches("<message ").count();
                let mut line = format!("{opening}: {}", size(inner.chars().count()));
                if messages > 0 {
                    line.push_str(&format!(", {messages} message(s)"));
                }
                if let Some(k) = inner.find(" older message(s) omitted]") {
                    let n: String = inner[..k]
                        .chars()
                        .rev()
                        .take_while(char::is_ascii_digit)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    line.push_str(&format!(", {n} older omitted for the budget"));
                }
                out.push(line);
                rest = &rest[inner_start + j + close.len()..];
            }
            _ => rest = &rest[i + 1..],
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Kind;
    use crate::draft::test_support::{email, finding, mailbox};
    use crate::parse::Addr;
    use crate::thread::Thread;

    #[test]
    fn explain_names_the_prompts_parts_and_sizes() {
        let bob = Addr {
            name: Some("Bob".into()),
            email: "bob@buyer.example".into(),
        };
        let thread = Thread {
            id: "q@b".into(),
            messages: vec![
                email("a@b", bob.clone(), "First question.", 1_717_000_000),
                email("q@b", bob, "What is the price?", 1_717_200_000),
            ],
        };
        let mut p = crate::draft::request(
            &thread,
            &finding("q@b", Kind::Reply),
            &mailbox(),
            &Default::default(),
        );
        p[1].content
            .push_str("\n<knowledge file=\"offer.txt\">\nWe sell chairs.\n</knowledge>\n");
        let lines = describe(&p);
        assert!(lines[0].starts_with("whole prompt: "), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("system: ")), "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("  <thread>: ") && l.ends_with(", 2 message(s)")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("  <knowledge file=\"offer.txt\">: 17 chars")),
            "{lines:?}"
        );
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
