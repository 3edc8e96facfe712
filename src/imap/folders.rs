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
    Ok(FolderNames {
        // RFC 3501 5.1: INBOX always names the user's inbox; no attribute or guess needed.
        inbox: pick(listed, overrides.inbox.as_deref(), "\\Inbox", &[])?
            .unwrap_or_else(|| "INBOX".into()),
        sent: pick(listed, overrides.sent.as_deref(), "\\Sent", SENT_NAMES)?,
        drafts: pick(
            listed,
            overrides.drafts.as_deref(),
            "\\Drafts",
            DRAFTS_NAMES,
        )?,
    })
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
        }
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
        let got = choose(&listed, &folders(Some("Entwürfe"), None, None)).unwrap();
        assert_eq!(got.inbox, "Entwürfe");
    }
}
