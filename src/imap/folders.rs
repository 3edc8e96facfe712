//! Choosing INBOX, Sent and Drafts from the server's LIST: the user's override, else the RFC
//! 6154 attribute, else a well-known name. Pure: it gets the listing (names already decoded
//! from modified UTF-7) and returns the choice; the session does the LIST.
//!
//! A name match prefers the folder itself at the top (`Drafts`), then under INBOX (`INBOX.Drafts`,
//! where Courier and Cyrus keep everything), and only then a deeper folder whose last part
//! matches, so `Archive/2023/Drafts` is never picked over `Drafts`. A `\Noselect` folder is a
//! node of the hierarchy that holds no mail: never chosen.

use super::FolderNames;
use crate::config::Folders;
use anyhow::Result;

/// One folder as LIST reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// The name a person reads (decoded from modified UTF-7).
    pub name: String,
    /// The name as the server sent it, for commands.
    pub wire: String,
    /// The hierarchy delimiter (`/`, `.`), `None` for a flat namespace.
    pub delimiter: Option<String>,
    /// Name attributes, e.g. `\Sent`, `\Noselect`.
    pub attributes: Vec<String>,
}

impl Listed {
    fn has(&self, attr: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(attr))
    }

    /// Can it be opened? RFC 3501 `\Noselect`, RFC 5258 `\NonExistent`.
    fn selectable(&self) -> bool {
        !self.has("\\Noselect") && !self.has("\\NonExistent")
    }

    /// How well the name matches `wanted`: 0 the folder at the top, 1 directly under INBOX,
    /// 2 a deeper folder whose last part matches; `None` no match.
    fn rank(&self, wanted: &str) -> Option<u8> {
        if self.name.eq_ignore_ascii_case(wanted) {
            return Some(0);
        }
        let delim = self.delimiter.as_deref().filter(|d| !d.is_empty())?;
        let mut parts = self.name.split(delim);
        let first = parts.next()?;
        let rest: Vec<&str> = parts.collect();
        let leaf = rest.last()?;
        if !leaf.eq_ignore_ascii_case(wanted) {
            return None;
        }
        Some(if rest.len() == 1 && first.eq_ignore_ascii_case("INBOX") {
            1
        } else {
            2
        })
    }
}

/// Names tried, case-insensitively, when no folder carries the RFC 6154 attribute.
pub const SENT_NAMES: &[&str] = &[
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "Gesendet",
    "Gesendete Elemente",
    "Envoyés",
    "Éléments envoyés",
];
pub const DRAFTS_NAMES: &[&str] = &["Drafts", "Draft", "Entwürfe", "Brouillons"];

/// INBOX, Sent and Drafts out of `listed`, honouring `overrides`.
pub fn choose(listed: &[Listed], overrides: &Folders) -> Result<FolderNames> {
    let names = FolderNames {
        // RFC 3501 5.1: INBOX always names the user's inbox; no attribute or guess needed.
        inbox: pick(listed, overrides.inbox.as_deref(), "\\Inbox", &[])?
            .unwrap_or_else(|| "INBOX".into()),
        sent: pick(
            listed,
            overrides.sent.as_deref(),
            "\\Sent",
            &with_fallbacks(&overrides.sent_fallbacks, SENT_NAMES),
        )?,
        drafts: pick(
            listed,
            overrides.drafts.as_deref(),
            "\\Drafts",
            &with_fallbacks(&overrides.drafts_fallbacks, DRAFTS_NAMES),
        )?,
    };
    if let Some(drafts) = &names.drafts {
        refuse_as_drafts(listed, drafts, &names)?;
    }
    Ok(names)
}

/// A preset's names first (they are the provider's own), then the usual ones.
fn with_fallbacks<'a>(preset: &'a [String], usual: &[&'a str]) -> Vec<&'a str> {
    preset
        .iter()
        .map(String::as_str)
        .chain(usual.iter().copied())
        .collect()
}

/// tend APPENDs to Drafts and removes its own drafts there: a Drafts that is also the inbox,
/// Sent, an archive of all mail, Junk or Trash (a misconfiguration, or one folder carrying two
/// special-use attributes, RFC 6154) would put drafts among the user's mail, so it is refused.
fn refuse_as_drafts(listed: &[Listed], drafts: &str, names: &FolderNames) -> Result<()> {
    let same = |other: &str| other.eq_ignore_ascii_case(drafts);
    let why = if same(&names.inbox) {
        Some("it is the inbox".to_string())
    } else if names.sent.as_deref().is_some_and(same) {
        Some("it is the Sent folder".to_string())
    } else {
        listed
            .iter()
            .filter(|l| same(&l.name))
            .find_map(|l| {
                ["\\Sent", "\\All", "\\Junk", "\\Trash"]
                    .into_iter()
                    .find(|a| l.has(a))
            })
            .map(|a| format!("the server marks it {a}"))
    };
    match why {
        Some(why) => anyhow::bail!(
            "refusing {drafts:?} as the Drafts folder ([folders] drafts in the mailbox file, or \\Drafts \
             on the server): {why}, and tend writes and removes its drafts there; set `drafts` to \
             a folder of drafts only"
        ),
        None => Ok(()),
    }
}

fn pick(
    listed: &[Listed],
    wanted: Option<&str>,
    attr: &str,
    names: &[&str],
) -> Result<Option<String>> {
    if let Some(wanted) = wanted {
        // Written as a person reads it (`Entwürfe`), or as the server sends it (`Entw&APw-rfe`).
        let found = listed
            .iter()
            .find(|l| l.name == wanted)
            .or_else(|| listed.iter().find(|l| l.wire == wanted));
        return match found {
            Some(l) if l.selectable() => Ok(Some(l.name.clone())),
            Some(_) => anyhow::bail!(
                "the configured folder {wanted:?} cannot be opened on the server (\\Noselect)"
            ),
            None => {
                let names: Vec<&str> = listed.iter().take(30).map(|l| l.name.as_str()).collect();
                anyhow::bail!(
                    "the configured folder {wanted:?} ([folders] in the mailbox file) does not \
                     exist on the server; it lists: {}",
                    names.join(", ")
                )
            }
        };
    }
    let usable = || listed.iter().filter(|l| l.selectable());
    if let Some(l) = usable().find(|l| l.has(attr)) {
        return Ok(Some(l.name.clone()));
    }
    // Best rank first, then the order of `names`, then LIST order.
    let best = names
        .iter()
        .enumerate()
        .flat_map(|(i, n)| usable().filter_map(move |l| Some(((l.rank(n)?, i), l))))
        .min_by_key(|(key, _)| *key);
    Ok(best.map(|(_, l)| l.name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(entries: &[(&str, &str)]) -> Vec<Listed> {
        entries
            .iter()
            .map(|(name, attrs)| Listed {
                name: name.to_string(),
                wire: super::super::utf7::encode(name),
                delimiter: Some(if name.contains('.') { "." } else { "/" }.into()),
                attributes: attrs.split_whitespace().map(String::from).collect(),
            })
            .collect()
    }

    fn folders(inbox: Option<&str>, sent: Option<&str>, drafts: Option<&str>) -> Folders {
        Folders {
            inbox: inbox.map(String::from),
            sent: sent.map(String::from),
            drafts: drafts.map(String::from),
            ..Folders::default()
        }
    }

    #[test]
    fn a_presets_folder_names_come_before_the_usual_ones() {
        // A Gmail-like server marking nothing, with an older "Sent" beside its own folder.
        let listed = listing(&[
            ("INBOX", ""),
            ("Sent", ""),
            ("[Gmail]/Sent Mail", ""),
            ("[Gmail]/Drafts", ""),
        ]);
        let overrides = Folders {
            sent_fallbacks: vec!["[Gmail]/Sent Mail".into()],
            drafts_fallbacks: vec!["[Gmail]/Drafts".into()],
            ..Folders::default()
        };
        let names = choose(&listed, &overrides).unwrap();
        assert_eq!(names.sent.as_deref(), Some("[Gmail]/Sent Mail"));
        assert_eq!(names.drafts.as_deref(), Some("[Gmail]/Drafts"));
        let usual = choose(&listed, &Folders::default()).unwrap();
        assert_eq!(usual.sent.as_deref(), Some("Sent"));
    }

    #[test]
    fn fallback_by_name_prefers_the_top_level_folder_and_skips_noselect() {
        let none = folders(None, None, None);
        // (listing as (name, attributes), expected sent, expected drafts)
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, Option<&'a str>);
        let table: &[Case] = &[
            (
                &[("INBOX", ""), ("Sent", ""), ("Drafts", "")],
                Some("Sent"),
                Some("Drafts"),
            ),
            // A deeper folder listed first does not win over the top-level one.
            (
                &[
                    ("Archive/2023/Drafts", ""),
                    ("Archive/Sent", ""),
                    ("Drafts", ""),
                    ("Sent", ""),
                ],
                Some("Sent"),
                Some("Drafts"),
            ),
            (
                &[("Clients/Acme/Draft", ""), ("Draft", "")],
                None,
                Some("Draft"),
            ),
            // Courier/Cyrus: everything under INBOX.
            (
                &[
                    ("INBOX", ""),
                    ("INBOX.Archive.Sent", ""),
                    ("INBOX.Sent", ""),
                    ("INBOX.Drafts", ""),
                ],
                Some("INBOX.Sent"),
                Some("INBOX.Drafts"),
            ),
            // Any rank-0 name beats a better-listed candidate's deeper match.
            (
                &[("Archive/Sent", ""), ("Sent Items", "")],
                Some("Sent Items"),
                None,
            ),
            // Only deeper matches: the last resort.
            (&[("Archive/Sent", "")], Some("Archive/Sent"), None),
            // A \Noselect node is never picked, by name or attribute.
            (
                &[
                    ("Drafts", "\\Noselect \\HasChildren"),
                    ("Sent", "\\Noselect \\Sent"),
                    ("Work/Drafts", ""),
                ],
                None,
                Some("Work/Drafts"),
            ),
            // Names decoded from modified UTF-7 match the localized candidates.
            (
                &[("Gesendet", ""), ("Entwürfe", "")],
                Some("Gesendet"),
                Some("Entwürfe"),
            ),
            (
                &[("Envoyés", ""), ("Brouillons", "")],
                Some("Envoyés"),
                Some("Brouillons"),
            ),
            // The RFC 6154 attribute wins over every name.
            (
                &[
                    ("Sent", ""),
                    ("Gesendete Objekte", "\\Sent"),
                    ("Drafts", ""),
                    ("Mine", "\\Drafts"),
                ],
                Some("Gesendete Objekte"),
                Some("Mine"),
            ),
            // Case does not matter.
            (
                &[("SENT", ""), ("drafts", "")],
                Some("SENT"),
                Some("drafts"),
            ),
        ];
        for (entries, sent, drafts) in table {
            let got = choose(&listing(entries), &none).unwrap();
            assert_eq!(got.inbox, "INBOX");
            assert_eq!(got.sent.as_deref(), *sent, "Sent from {entries:?}");
            assert_eq!(got.drafts.as_deref(), *drafts, "Drafts from {entries:?}");
        }
    }

    #[test]
    fn an_override_matches_the_decoded_or_the_wire_name() {
        let listed = listing(&[("INBOX", ""), ("Entwürfe", ""), ("Gesendete Elemente", "")]);
        for wanted in ["Entwürfe", "Entw&APw-rfe"] {
            let got = choose(&listed, &folders(None, None, Some(wanted))).unwrap();
            assert_eq!(got.drafts.as_deref(), Some("Entwürfe"));
            assert_eq!(got.sent.as_deref(), Some("Gesendete Elemente"));
        }
        let err = choose(&listed, &folders(None, Some("Sent"), None)).unwrap_err();
        assert!(
            err.to_string().contains("does not exist")
                && err
                    .to_string()
                    .contains("lists: INBOX, Entwürfe, Gesendete Elemente"),
            "{err}"
        );
        let noselect = listing(&[("Drafts", "\\Noselect")]);
        let err = choose(&noselect, &folders(None, None, Some("Drafts"))).unwrap_err();
        assert!(err.to_string().contains("cannot be opened"), "{err}");
        // The inbox override is honoured, and then Entwürfe cannot be Drafts as well.
        let err = choose(&listed, &folders(Some("Entwürfe"), None, None)).unwrap_err();
        assert!(err.to_string().contains("it is the inbox"), "{err}");
    }

    #[test]
    fn a_drafts_folder_that_is_inbox_sent_or_special_is_refused() {
        let plain = [("INBOX", ""), ("Sent", "\\Sent"), ("Drafts", "\\Drafts")];
        type Case<'a> = (
            &'a [(&'a str, &'a str)],
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: &[Case] = &[
            // (LIST, [folders] sent, [folders] drafts, the refusal's reason or None for fine)
            (&plain, None, None, None),
            (&plain, None, Some("Sent"), Some("it is the Sent folder")),
            (&plain, None, Some("INBOX"), Some("it is the inbox")),
            (
                &plain,
                Some("Drafts"),
                Some("Drafts"),
                Some("it is the Sent folder"),
            ),
            (
                &[("INBOX", ""), ("Mail", "\\Sent \\Drafts")],
                None,
                None,
                Some("it is the Sent folder"),
            ),
            (
                &[
                    ("INBOX", ""),
                    ("Sent", "\\Sent"),
                    ("Mail", "\\Drafts \\Sent"),
                ],
                None,
                None,
                Some("marks it \\Sent"),
            ),
            (
                &[("INBOX", ""), ("All", "\\All \\Drafts")],
                None,
                None,
                Some("marks it \\All"),
            ),
            (
                &[("INBOX", ""), ("Junk", "\\Junk")],
                None,
                Some("Junk"),
                Some("marks it \\Junk"),
            ),
            (
                &[("INBOX", ""), ("Bin", "\\Trash")],
                None,
                Some("Bin"),
                Some("marks it \\Trash"),
            ),
        ];
        for (list, sent, drafts, refused) in cases {
            let got = choose(&listing(list), &folders(None, *sent, *drafts));
            match refused {
                None => assert!(got.is_ok(), "{list:?} {drafts:?}: {got:?}"),
                Some(why) => {
                    let err = format!("{:#}", got.expect_err("refused"));
                    assert!(err.contains(why), "{list:?} {drafts:?}: {err}");
                    assert!(err.contains("[folders] drafts"), "{err}");
                }
            }
        }
    }
}
