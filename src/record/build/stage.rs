//! A deal's stage history and its state: the pipeline's first stage at the first touch, the
//! model's inferences, the user's corrections winning over them (the overruled ones kept
//! apart), and the state from the last touch, a quiet deal going dark.

use super::Builder;
use super::Known;
use crate::config::{MailboxConfig, Outcome};
use crate::record::{Deal, DealState, Side, StageChange, StageSource};

impl Builder<'_> {
    /// The deal's stage history: it enters the pipeline's first stage at its first touch; the
    /// model's inferences follow, except those from messages dated at or before a correction
    /// of the user's (a correction wins, and holds until later mail moves the deal on), which
    /// come back apart as overruled.
    pub(super) fn history(
        &self,
        deal: &Deal,
        known: Known,
    ) -> (Vec<StageChange>, Vec<StageChange>) {
        let mut out = Vec::new();
        if let (Some(first), Some(t)) = (self.pipeline.stages.first(), deal.touches().next()) {
            out.push(StageChange {
                stage: first.name.clone(),
                at: t.at,
                message_id: Some(t.message_id.clone()),
                source: StageSource::Opened,
                evidence: None,
            });
        }
        let known_stage =
            |c: &StageChange| self.pipeline.stage(&c.stage).is_some() && c.at <= self.cutoff;
        let last_correction = known
            .corrections
            .iter()
            .filter(|c| known_stage(c))
            .map(|c| c.at)
            .max();
        let (kept, overruled): (Vec<_>, Vec<_>) = known
            .inferred
            .into_iter()
            .filter(known_stage)
            .partition(|c| last_correction.is_none_or(|at| c.at > at));
        out.extend(kept);
        out.extend(known.corrections.into_iter().filter(known_stage));
        for c in &mut out {
            if let Some(s) = self.pipeline.stage(&c.stage) {
                c.stage = s.name.clone();
            }
        }
        // Corrections sort after inferences of the same moment: the user's word is the last.
        out.sort_by_key(|c| (c.at, c.source != StageSource::Opened, is_correction(c)));
        out.dedup_by(|b, a| a.stage == b.stage);
        (out, overruled)
    }

    /// The deal's state from its last touch and its stage; a deal quiet for `lost_after_days`
    /// went dark and is lost.
    pub(super) fn settle(&self, deal: &mut Deal, holder: &MailboxConfig) {
        let outcome = |stage: &str| self.pipeline.stage(stage).and_then(|s| s.outcome);
        if let Some(last) = deal.last().cloned() {
            deal.state = if last.side == Side::Buyer {
                DealState::NeedsReply
            } else {
                let tz = self
                    .mailboxes
                    .iter()
                    .find(|m| m.name == last.mailbox)
                    .unwrap_or(holder)
                    .timezone;
                let sent = chrono::DateTime::from_timestamp(last.at, 0).unwrap_or_default();
                let due =
                    crate::detect::followup_due(sent, holder.rules.followup_business_days, tz);
                if due.timestamp() <= self.now {
                    DealState::Quiet
                } else {
                    DealState::WaitingOnThem
                }
            };
            let dark_at = last.at + i64::from(self.pipeline.lost_after_days) * 86_400;
            let ended = deal
                .history
                .last()
                .is_some_and(|c| outcome(&c.stage).is_some());
            if deal.state == DealState::Quiet && !ended && dark_at <= self.now {
                if let Some(lost) = self
                    .pipeline
                    .stages
                    .iter()
                    .find(|s| s.outcome == Some(Outcome::Lost))
                {
                    deal.history.push(StageChange {
                        stage: lost.name.clone(),
                        at: dark_at,
                        message_id: None,
                        source: StageSource::Dark,
                        evidence: Some(format!(
                            "no answer for {} days after our last message",
                            self.pipeline.lost_after_days
                        )),
                    });
                }
            }
        }
        deal.stage = deal.history.last().map(|c| c.stage.clone());
        match deal.stage.as_deref().and_then(outcome) {
            Some(Outcome::Won) => deal.state = DealState::Won,
            Some(Outcome::Lost) => deal.state = DealState::Lost,
            None => {}
        }
    }
}

fn is_correction(c: &StageChange) -> bool {
    matches!(c.source, StageSource::Keyword | StageSource::Command)
}
