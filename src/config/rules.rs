//! When a thread deserves a draft and whom it may address: the `[rules]` table of a mailbox
//! file, checked, with its defaults, and the lookups `detect` and `compose` ask of it (allow
//! lists, trusted Reply-To domains, contact-form senders). Adding a rule starts in `raw` and
//! ends here.

use super::domains;
use super::raw::RawRules;

/// When a thread deserves a draft.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Business days our message may wait before a follow-up is due.
    pub followup_business_days: u32,
    /// Follow-ups per silence; after that, tend leaves the thread alone.
    pub max_followups: u32,
    /// Buyer messages older than this many days get no reply draft.
    pub reply_window_days: u32,
    /// Silences whose last message is older than this many days get no follow-up.
    pub followup_window_days: u32,
    /// May the model's "no reply needed" stop a draft? When false, its veto is ignored and its
    /// body drafted anyway (a veto without a body counts as a failed answer).
    pub model_may_veto: bool,
    /// What ends the silence after our message: only an answer in its own thread (the default),
    /// or any later mail from the same person, or from anyone at their company.
    pub followup_stops_on: StopsOn,
    /// Drafts written per day (in the mailbox's timezone) at most; past it, findings wait for
    /// the next day, newest first.
    pub max_drafts_per_day: u32,
    /// Sender domains whose Reply-To is followed even when it points at another domain (a
    /// buyer's ticket system); lower-case, without `@`.
    pub trusted_reply_to_domains: Vec<String>,
    /// Senders (`purchasing@buyer.example`) or domains (`buyer.example`) whose mail is a
    /// person's even when it carries list, bulk, noreply or calendar signs; lower-case.
    pub always_human: Vec<String>,
    /// Senders of website contact-form notifications (`website@us.example`,
    /// `noreply@typeform.com`): their Reply-To is the lead, who counts as the buyer.
    pub form_senders: Vec<String>,
}

/// `[rules] followup_stops_on`: how far a buyer's later mail reaches in ending a silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopsOn {
    /// Only a message in the thread itself (or a thread merged into it). Repeat buyers write
    /// several threads at once: a new RFQ is no answer to last week's quote.
    #[default]
    Thread,
    /// Also any later message from the person we are waiting on, in any thread.
    Person,
    /// Also any later message from anyone at their company (their domain; on a free-mail
    /// domain such as gmail.com, the person alone).
    Company,
}

impl Rules {
    /// Is `email` a contact-form sender (plus-tags aside), whose Reply-To is the counterpart?
    pub fn is_form_sender(&self, email: &str) -> bool {
        let canonical = domains::canonical(email);
        self.form_senders
            .iter()
            .any(|f| domains::canonical(f) == canonical)
    }

    /// Is `email` on the `always_human` list, by address (plus-tags aside) or by domain
    /// (subdomains included)?
    pub fn is_always_human(&self, email: &str) -> bool {
        let canonical = domains::canonical(email);
        let domain = domains::domain_of(email);
        self.always_human.iter().any(|entry| {
            if entry.contains('@') {
                domains::canonical(entry) == canonical
            } else {
                domains::within(&domain, entry)
            }
        })
    }

    /// Is the sender's domain one whose foreign Reply-To we follow?
    pub fn trusts_reply_to_of(&self, sender: &str) -> bool {
        let domain = domains::domain_of(sender);
        self.trusted_reply_to_domains
            .iter()
            .any(|d| domains::within(&domain, d))
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            followup_business_days: 3,
            max_followups: 2,
            reply_window_days: 14,
            followup_window_days: 30,
            model_may_veto: true,
            followup_stops_on: StopsOn::Thread,
            max_drafts_per_day: 50,
            trusted_reply_to_domains: Vec::new(),
            always_human: Vec::new(),
            form_senders: Vec::new(),
        }
    }
}

/// Checks the `[rules]` table; an error names the key (`locate` adds the line).
pub(super) fn check(r: RawRules) -> Result<Rules, String> {
    let trusted_reply_to_domains = domain_list(&r.trusted_reply_to_domains);
    if let Some(d) = trusted_reply_to_domains
        .iter()
        .find(|d| d.is_empty() || d.contains(['@', ' ']))
    {
        return Err(format!(
            "key `rules.trusted_reply_to_domains`: {d:?} is not a domain"
        ));
    }
    let always_human: Vec<String> = r
        .always_human
        .iter()
        .map(|a| a.trim().trim_start_matches('@').to_ascii_lowercase())
        .collect();
    if let Some(a) = always_human
        .iter()
        .find(|a| a.is_empty() || (a.contains('@') && !super::is_address(a)) || a.contains(' '))
    {
        return Err(format!(
            "key `rules.always_human`: {a:?} is neither an email address nor a domain"
        ));
    }
    let form_senders: Vec<String> = r
        .form_senders
        .iter()
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    if let Some(a) = form_senders.iter().find(|a| !super::is_address(a)) {
        return Err(format!(
            "key `rules.form_senders`: {a:?} is not a bare email address"
        ));
    }
    let d = Rules::default();
    let rules = Rules {
        followup_business_days: r.followup_business_days.unwrap_or(d.followup_business_days),
        max_followups: r.max_followups.unwrap_or(d.max_followups),
        reply_window_days: r.reply_window_days.unwrap_or(d.reply_window_days),
        followup_window_days: r.followup_window_days.unwrap_or(d.followup_window_days),
        model_may_veto: r.model_may_veto.unwrap_or(d.model_may_veto),
        followup_stops_on: r.followup_stops_on.unwrap_or(d.followup_stops_on),
        max_drafts_per_day: r.max_drafts_per_day.unwrap_or(d.max_drafts_per_day),
        trusted_reply_to_domains,
        always_human,
        form_senders,
    };
    if rules.max_drafts_per_day == 0 {
        return Err("key `rules.max_drafts_per_day`: must be at least 1".into());
    }
    if rules.followup_business_days == 0 {
        return Err("key `rules.followup_business_days`: must be at least 1".into());
    }
    Ok(rules)
}

/// Domains as written in the file: trimmed, without a leading `@`, lower-case.
pub(super) fn domain_list(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .collect()
}
