//! The language of a piece of mail, with whatlang (the only user of that crate). A trigram
//! model over all of its 70 languages guesses wildly on a two-line mail, so detection is
//! limited to the languages business mail in tend's markets is written in, and a guess the
//! model is not fairly sure of is no answer (the prompt then falls back to "the language of
//! the thread").

use serde::{Deserialize, Serialize};
use whatlang::{Detector, Lang};

/// The languages detection chooses among. Short texts separate these well; adding every
/// language whatlang knows makes "Danke, passt." come out as Afrikaans.
const CANDIDATES: &[Lang] = &[
    Lang::Eng,
    Lang::Deu,
    Lang::Fra,
    Lang::Spa,
    Lang::Ita,
    Lang::Nld,
    Lang::Por,
    Lang::Swe,
    Lang::Dan,
    Lang::Nob,
    Lang::Fin,
    Lang::Pol,
    Lang::Ces,
    Lang::Tur,
    Lang::Rus,
];

/// Below this confidence a guess is not used.
const MIN_CONFIDENCE: f64 = 0.3;

/// Fewer letters than this say nothing about a language.
const MIN_LETTERS: usize = 12;

/// A language, stored by its ISO 639-3 code ("deu").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Language(Lang);

impl Language {
    /// ISO 639-3 code, as stored: "eng", "deu", "fra".
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// The English name the prompt uses: "German".
    pub fn name(self) -> &'static str {
        self.0.eng_name()
    }

    pub fn from_code(code: &str) -> Option<Language> {
        Lang::from_code(code).map(Language)
    }
}

impl TryFrom<String> for Language {
    type Error = String;
    fn try_from(code: String) -> Result<Self, String> {
        Language::from_code(&code).ok_or_else(|| format!("unknown language code {code:?}"))
    }
}

impl From<Language> for String {
    fn from(l: Language) -> String {
        l.code().to_string()
    }
}

/// The language `text` is written in, when it says so clearly enough.
pub fn detect(text: &str) -> Option<Language> {
    // Addresses, links and figures are no language; they only blur a short mail.
    let words: String = text
        .split_whitespace()
        .filter(|w| !w.contains('@') && !w.contains("://") && !w.starts_with("www."))
        .collect::<Vec<_>>()
        .join(" ");
    if words.chars().filter(|c| c.is_alphabetic()).count() < MIN_LETTERS {
        return None;
    }
    let info = Detector::with_allowlist(CANDIDATES.to_vec()).detect(&words)?;
    (info.confidence() >= MIN_CONFIDENCE).then_some(Language(info.lang()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_detection_on_short_mails() {
        let cases = [
            (
                "Hallo Frau Berg, danke für die schnelle Antwort. Passt der Termin am Freitag?",
                "deu",
            ),
            (
                "Bonjour Madame, merci pour votre offre. Pouvez-vous livrer la semaine prochaine ?",
                "fra",
            ),
            (
                "Hi Anna, thanks for the quick answer. Does Friday work for the delivery?",
                "eng",
            ),
            (
                "Können Sie mir bitte ein Angebot für 200 Stück schicken?",
                "deu",
            ),
            ("Nous avons bien reçu la facture, merci.", "fra"),
        ];
        for (text, want) in cases {
            assert_eq!(detect(text).map(Language::code), Some(want), "{text}");
        }
        assert_eq!(detect("OK"), None, "too short to tell");
        assert_eq!(detect("+49 30 1234567 anna@x.example"), None);
    }
}
