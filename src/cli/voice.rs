//! What `tend voice` prints: what tend learned from the user's own mail (how many messages,
//! the signature and which one drafts carry, greeting and closing habits per language, and
//! style examples exactly as a draft to another company shows them, masked). It decides
//! nothing; learning is `crate::voice`.

use super::show::shown;
use crate::config::MailboxConfig;
use crate::voice::{self, SignatureSource, Voice};

/// Examples shown per language.
const SHOWN: usize = 3;

pub(super) fn voice_text(mb: &MailboxConfig, v: &Voice) -> String {
    let mut out = format!(
        "{}: learned from {} message(s) of ours (the newest {} at most)\n",
        mb.name,
        v.learned_from,
        voice::LEARN_FROM
    );
    if v.learned_from == 0 {
        out.push_str("  nothing yet: run `tend sync` or `tend once` so Sent is read\n");
    }
    let learned = v.signature.as_ref().map(|s| {
        let how = match s.source {
            SignatureSource::Separator => "the block after their \"-- \" line",
            SignatureSource::SharedLines => "the lines most of their messages end with",
        };
        (how, s.text.as_str())
    });
    match (&mb.signature, learned) {
        (Some(_), Some((how, _))) => out.push_str(&format!(
            "signature: the configured `signature` in {} (drafts carry it; learned from Sent was {how})\n",
            mb.file.display()
        )),
        (Some(_), None) => out.push_str(&format!(
            "signature: the configured `signature` in {}\n",
            mb.file.display()
        )),
        (None, Some((how, _))) => {
            out.push_str(&format!("signature: learned from Sent ({how}); drafts carry it\n"))
        }
        (None, None) => out.push_str("signature: none configured and none learned\n"),
    }
    if let Some((_, text)) = learned {
        for l in text.lines() {
            out.push_str(&format!("  | {}\n", shown(l)));
        }
    }
    if v.habits.is_empty() {
        out.push_str("languages: none detected yet\n");
    }
    for h in &v.habits {
        let share = |s: &Option<voice::Share>| match s {
            Some(s) => format!("\"{}\" ({} of {})", shown(&s.text), s.count, h.messages),
            None => "none seen".into(),
        };
        out.push_str(&format!(
            "{}: {} message(s); greeting {}; closing {}\n",
            h.language.name(),
            h.messages,
            share(&h.greeting),
            share(&h.sign_off)
        ));
        // As a draft for a stranger's thread in this language sees them: masked.
        for e in voice::examples(v, None, Some(h.language), SHOWN) {
            out.push_str(&format!("  example <{}> (masked):\n", shown(&e.message_id)));
            for l in e.text.lines() {
                out.push_str(&format!("    {}\n", shown(l)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::Signature;

    #[test]
    fn tend_voice_says_which_signature_drafts_carry() {
        let mut mb = crate::draft::test_support::mailbox();
        let v = Voice {
            learned_from: 4,
            signature: Some(Signature {
                text: "Alice\nShop \u{1b}[31mGmbH".into(),
                source: SignatureSource::SharedLines,
            }),
            ..Voice::default()
        };
        let configured = voice_text(&mb, &v);
        assert!(
            configured.contains(
                "the configured `signature` in /etc/tend/mailboxes/alice.toml (drafts carry it"
            ),
            "{configured}"
        );
        mb.signature = None;
        let learned = voice_text(&mb, &v);
        assert!(learned.contains("signature: learned from Sent (the lines most of their messages end with); drafts carry it"), "{learned}");
        assert!(
            learned.contains("  | Shop \\u{1b}[31mGmbH\n"),
            "escaped for the terminal: {learned}"
        );
        let empty = voice_text(&mb, &Voice::default());
        assert!(
            empty.contains("nothing yet") && empty.contains("none configured and none learned"),
            "{empty}"
        );
    }
}
