//! The `[pipeline]` table of `tend.toml`: the sales stages every deal moves through, each with
//! its exit criterion written as a buyer action (what the model is shown when it infers a
//! stage), the IMAP keyword that sets it from a mail client, and whether it ends a deal as won
//! or lost; plus when a silent deal counts as lost and how many stage-only model calls a
//! mailbox may make a day. One set for the whole service: two teammates share one pipeline.
//!
//! It does not infer stages (`draft` asks the model) nor keep their history (`store`).

use serde::Deserialize;

/// The checked pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// In order: a deal moves forward through them; a terminal stage ends it.
    pub stages: Vec<Stage>,
    /// A deal silent after our last message for this many days counts as lost ("went dark").
    pub lost_after_days: u32,
    /// Model calls a mailbox may make in a day only to infer a stage (where no draft is made;
    /// a draft's call infers the stage at no extra cost).
    pub max_stage_calls_per_day: u32,
}

/// One stage of the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Lower-case, as shown and as given to `tend stage`.
    pub name: String,
    /// The buyer action that moves a deal out of this stage, for the model and the README.
    pub exit: String,
    /// The IMAP keyword (a Thunderbird tag) that puts a thread's deal in this stage.
    pub keyword: String,
    /// Set on a stage that ends the deal.
    pub outcome: Option<Outcome>,
}

/// How a terminal stage ends a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Won,
    Lost,
}

impl Pipeline {
    /// The stage named `name` (case-insensitive).
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name.trim()))
    }

    /// The position of `name` in the pipeline's order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.stages
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name.trim()))
    }

    /// The stage an IMAP keyword stands for (keywords compare case-insensitively, RFC 3501).
    pub fn by_keyword(&self, keyword: &str) -> Option<&Stage> {
        self.stages
            .iter()
            .find(|s| s.keyword.eq_ignore_ascii_case(keyword))
    }
}

impl Default for Pipeline {
    /// The default B2B set.
    fn default() -> Pipeline {
        let stage = |name: &str, exit: &str, outcome| Stage {
            name: name.into(),
            exit: exit.into(),
            keyword: name.into(),
            outcome,
        };
        Pipeline {
            stages: vec![
                stage("new", "the buyer made first contact", None),
                stage("qualified", "the buyer stated a concrete need", None),
                stage("demo", "the buyer took part in a call or a demo", None),
                stage(
                    "proposal",
                    "the buyer received our offer and acknowledged it",
                    None,
                ),
                stage("negotiation", "the buyer asked for changed terms", None),
                stage(
                    "won",
                    "the buyer signed or sent a purchase order",
                    Some(Outcome::Won),
                ),
                stage(
                    "lost",
                    "the buyer declined, chose another vendor, or went dark",
                    Some(Outcome::Lost),
                ),
            ],
            lost_after_days: 30,
            max_stage_calls_per_day: 50,
        }
    }
}

/// `[pipeline]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPipeline {
    stages: Option<Vec<RawStage>>,
    lost_after_days: Option<u32>,
    max_stage_calls_per_day: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: String,
    exit: String,
    keyword: Option<String>,
    outcome: Option<Outcome>,
}

/// An IMAP keyword is an atom (RFC 3501 `flag-keyword`): no spaces, controls or specials, and
/// not a system flag. Also what `imap` checks before a keyword goes on the wire.
pub fn is_atom(keyword: &str) -> bool {
    !keyword.is_empty()
        && !keyword.starts_with('\\')
        && keyword
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
}

/// Checks `[pipeline]`; the error names the key.
pub(super) fn validate(raw: Option<RawPipeline>) -> Result<Pipeline, String> {
    let raw = raw.unwrap_or_default();
    let default = Pipeline::default();
    let stages = match raw.stages {
        None => default.stages,
        Some(stages) => {
            let mut out: Vec<Stage> = Vec::with_capacity(stages.len());
            for (i, s) in stages.into_iter().enumerate() {
                let at = format!("pipeline.stages[{i}]");
                let name = s.name.trim().to_lowercase();
                if name.is_empty() || name.chars().any(char::is_control) {
                    return Err(format!("key `{at}.name`: must be a non-empty name"));
                }
                if out.iter().any(|o| o.name == name) {
                    return Err(format!("key `{at}.name`: stage {name:?} is named twice"));
                }
                if s.exit.trim().is_empty() {
                    return Err(format!(
                        "key `{at}.exit`: say what the buyer does to leave this stage"
                    ));
                }
                let keyword = s.keyword.unwrap_or_else(|| name.replace(' ', "_"));
                if !is_atom(&keyword) {
                    return Err(format!(
                        "key `{at}.keyword`: {keyword:?} is not an IMAP keyword (no spaces, \
                         no ( ) {{ % * \" \\ ], not starting with \\)"
                    ));
                }
                if let Some(o) = out
                    .iter()
                    .find(|o| o.keyword.eq_ignore_ascii_case(&keyword))
                {
                    return Err(format!(
                        "key `{at}.keyword`: {keyword:?} is already the keyword of {:?}",
                        o.name
                    ));
                }
                out.push(Stage {
                    name,
                    exit: s.exit.trim().to_string(),
                    keyword,
                    outcome: s.outcome,
                });
            }
            if out.iter().all(|s| s.outcome.is_some()) {
                return Err(
                    "key `pipeline.stages`: needs at least one stage that is not won or \
                            lost (no `outcome`)"
                        .into(),
                );
            }
            out
        }
    };
    let lost_after_days = raw.lost_after_days.unwrap_or(default.lost_after_days);
    if lost_after_days == 0 {
        return Err("key `pipeline.lost_after_days`: must be at least 1".into());
    }
    Ok(Pipeline {
        stages,
        lost_after_days,
        max_stage_calls_per_day: raw
            .max_stage_calls_per_day
            .unwrap_or(default.max_stage_calls_per_day),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<Pipeline, String> {
        #[derive(Deserialize)]
        struct Top {
            pipeline: Option<RawPipeline>,
        }
        let top: Top = toml::from_str(toml).map_err(|e| e.to_string())?;
        validate(top.pipeline)
    }

    #[test]
    fn no_table_gives_the_default_b2b_set() {
        let p = parse("").unwrap();
        let names: Vec<_> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "new",
                "qualified",
                "demo",
                "proposal",
                "negotiation",
                "won",
                "lost"
            ]
        );
        assert_eq!(p.by_keyword("Proposal").unwrap().name, "proposal");
        assert_eq!(p.stage("won").unwrap().outcome, Some(Outcome::Won));
        assert_eq!(p.lost_after_days, 30);
    }

    #[test]
    fn stages_of_ones_own_with_keywords() {
        let p = parse(
            r#"
            [pipeline]
            lost_after_days = 45
            [[pipeline.stages]]
            name = "Lead"
            exit = "the buyer asked for a quote"
            [[pipeline.stages]]
            name = "closed won"
            exit = "signed"
            keyword = "$label3"
            outcome = "won"
            "#,
        )
        .unwrap();
        assert_eq!(p.stages[0].name, "lead");
        assert_eq!(p.stages[0].keyword, "lead");
        assert_eq!(p.by_keyword("$Label3").unwrap().name, "closed won");
        assert_eq!(p.position("Closed Won"), Some(1));
        assert_eq!(p.lost_after_days, 45);
    }

    #[test]
    fn bad_stages_are_refused_naming_the_key() {
        for (toml, key) in [
            (
                "[[pipeline.stages]]\nname = \"a\"\nexit = \"x\"\n[[pipeline.stages]]\nname = \"A\"\nexit = \"y\"",
                "pipeline.stages[1].name",
            ),
            ("[[pipeline.stages]]\nname = \"a\"\nexit = \" \"", "pipeline.stages[0].exit"),
            (
                "[[pipeline.stages]]\nname = \"a\"\nexit = \"x\"\nkeyword = \"has space\"",
                "pipeline.stages[0].keyword",
            ),
            (
                "[[pipeline.stages]]\nname = \"w\"\nexit = \"x\"\noutcome = \"won\"",
                "pipeline.stages",
            ),
            ("[pipeline]\nlost_after_days = 0", "pipeline.lost_after_days"),
        ] {
            let err = parse(toml).unwrap_err();
            assert!(err.contains(&format!("`{key}")), "{toml}: {err}");
        }
    }

    #[test]
    fn the_example_in_the_shipped_tend_toml_is_the_default() {
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tend.toml");
        let text = std::fs::read_to_string(shipped).unwrap();
        let table = &text[text
            .find("\n# [pipeline]\n")
            .expect("the [pipeline] example")..];
        // Uncomment the TOML lines of the example, leave the prose out.
        let toml: String = table
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| {
                l.starts_with('[') || l.split_once(" = ").is_some_and(|(k, _)| !k.contains(' '))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse(&toml).unwrap(), Pipeline::default(), "{toml}");
    }
}
