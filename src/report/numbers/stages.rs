//! Time in stage, conversion out of each stage, and where momentum dies (the stage and the
//! turn at which quiet or lost deals stalled). Pure over the deals' stage histories and touches;
//! the window and `until` are arguments.

use super::super::{StageNumbers, Stall};
use super::waits::percentile;
use crate::config::{Outcome, Pipeline};
use crate::record::{Deal, DealState, StageChange, StageSource};
use std::collections::BTreeMap;

/// One stay of a deal in a stage.
struct Stay<'a> {
    stage: &'a str,
    entered: i64,
    /// When the next change moved it elsewhere, if one did before `until`.
    left: Option<i64>,
}

/// A deal's stays as of `until`: its changes before `until` in order of `at` (stable, so two
/// changes at one instant keep their order), with a repeated change to the stage it is already
/// in collapsed into the stay it continues.
fn stays(deal: &Deal, until: i64) -> Vec<Stay<'_>> {
    let mut changes: Vec<&StageChange> = deal.history.iter().filter(|c| c.at < until).collect();
    changes.sort_by_key(|c| c.at);
    let mut out: Vec<Stay<'_>> = Vec::new();
    for c in changes {
        if let Some(last) = out.last_mut() {
            if last.stage.eq_ignore_ascii_case(c.stage.trim()) {
                continue;
            }
            last.left = Some(c.at);
        }
        out.push(Stay {
            stage: c.stage.trim(),
            entered: c.at,
            left: None,
        });
    }
    out
}

/// Whether `stage` counts as reaching further than position `from`: a later position in the
/// pipeline whose outcome is not Lost.
fn reaches_beyond(pipeline: &Pipeline, stage: &str, from: usize) -> bool {
    pipeline.position(stage).is_some_and(|p| {
        p > from && pipeline.stages.get(p).and_then(|s| s.outcome) != Some(Outcome::Lost)
    })
}

/// Per stage of `pipeline`, in its order (every configured stage, also with no deals):
///
/// - `entered`: deals whose first stay in the stage that begins in `[since, until)` exists
///   (a deal counts once per stage; a stay begins at the change's `at`, and a repeated change
///   to the stage a deal is in continues the stay);
/// - `median_seconds`, `p90_seconds`: over those deals whose counted stay ended before
///   `until` (the next change to another stage), its length; nearest-rank percentiles;
/// - `current`, `current_oldest_seconds`: deals whose stay at `until` is in this stage
///   (wherever it began), and `until` minus the earliest beginning among them;
/// - `converted`: of the deals counted in `entered`, the share with a later change (before
///   `until`) to a stage further along the pipeline that is not a Lost stage (skipping stages
///   counts); `None` for a terminal (won or lost) stage and when none entered.
///
/// Changes to a stage the pipeline does not name (an old configuration) end a stay but are
/// not listed.
pub(super) fn stage_numbers<'a>(
    pipeline: &Pipeline,
    deals: impl IntoIterator<Item = &'a Deal>,
    since: i64,
    until: i64,
) -> Vec<StageNumbers> {
    struct Acc {
        entered: u64,
        converted: u64,
        lengths: Vec<i64>,
        current: u64,
        oldest: Option<i64>,
    }
    let mut acc: Vec<Acc> = pipeline
        .stages
        .iter()
        .map(|_| Acc {
            entered: 0,
            converted: 0,
            lengths: Vec::new(),
            current: 0,
            oldest: None,
        })
        .collect();
    for deal in deals {
        let stays = stays(deal, until);
        if let Some(now) = stays.last() {
            if let Some(a) = pipeline.position(now.stage).and_then(|p| acc.get_mut(p)) {
                a.current += 1;
                a.oldest = Some(a.oldest.map_or(now.entered, |o| o.min(now.entered)));
            }
        }
        for (p, (stage, a)) in pipeline.stages.iter().zip(acc.iter_mut()).enumerate() {
            let Some(i) = stays.iter().position(|s| {
                s.stage.eq_ignore_ascii_case(&stage.name) && (since..until).contains(&s.entered)
            }) else {
                continue;
            };
            a.entered += 1;
            if let Some(left) = stays[i].left {
                a.lengths.push(left.saturating_sub(stays[i].entered).max(0));
            }
            if stays[i + 1..]
                .iter()
                .any(|s| reaches_beyond(pipeline, s.stage, p))
            {
                a.converted += 1;
            }
        }
    }
    pipeline
        .stages
        .iter()
        .zip(acc)
        .map(|(stage, mut a)| {
            a.lengths.sort_unstable();
            StageNumbers {
                name: stage.name.clone(),
                entered: a.entered,
                median_seconds: percentile(&a.lengths, 50),
                p90_seconds: percentile(&a.lengths, 90),
                current: a.current,
                current_oldest_seconds: a.oldest.map(|o| until.saturating_sub(o)),
                converted: (stage.outcome.is_none() && a.entered > 0)
                    .then(|| a.converted as f64 / a.entered as f64),
            }
        })
        .collect()
}

/// Whether a change ends a deal as lost: it went dark, or moved to a Lost stage.
fn is_lost_change(pipeline: &Pipeline, c: &StageChange) -> bool {
    c.source == StageSource::Dark
        || pipeline.stage(&c.stage).and_then(|s| s.outcome) == Some(Outcome::Lost)
}

/// Where momentum dies. A deal counts when its state is Quiet (at `until`), or Lost with its
/// lost change (the latest change before `until` that went dark or moved to a Lost stage) in
/// `[since, until)`; a Lost deal without such a change counts as if still quiet. Its last
/// touch before `until` gives:
///
/// - the stage: the one it was in at that touch (the latest change at or before it that is
///   not a lost change; `None` before any stage was known);
/// - the turn: "theirs" when our side wrote last (we waited on the buyer), "ours" when the
///   buyer did;
/// - the gap: from that touch to the lost change, or to `until`.
///
/// Grouped by (stage, turn) and ranked by deals (most first), then by the median gap
/// (nearest rank; longest first), then by stage and turn.
pub(super) fn stalls<'a>(
    pipeline: &Pipeline,
    deals: impl IntoIterator<Item = &'a Deal>,
    since: i64,
    until: i64,
) -> Vec<Stall> {
    let mut groups: BTreeMap<(Option<String>, &'static str), Vec<i64>> = BTreeMap::new();
    for deal in deals {
        if !matches!(deal.state, DealState::Quiet | DealState::Lost) {
            continue;
        }
        let lost = (deal.state == DealState::Lost)
            .then(|| {
                deal.history
                    .iter()
                    .filter(|c| c.at < until && is_lost_change(pipeline, c))
                    .max_by_key(|c| c.at)
                    .map(|c| c.at)
            })
            .flatten();
        if lost.is_some_and(|at| at < since) {
            continue;
        }
        let Some(last) = deal.touches().filter(|t| t.at < until).max_by_key(|t| t.at) else {
            continue;
        };
        let stage = deal
            .history
            .iter()
            .filter(|c| c.at <= last.at && !is_lost_change(pipeline, c))
            .max_by_key(|c| c.at)
            .map(|c| {
                pipeline
                    .stage(&c.stage)
                    .map_or_else(|| c.stage.trim().to_lowercase(), |s| s.name.clone())
            });
        let turn = if last.side.is_us() { "theirs" } else { "ours" };
        let gap = lost.unwrap_or(until).saturating_sub(last.at).max(0);
        groups.entry((stage, turn)).or_default().push(gap);
    }
    let mut out: Vec<Stall> = groups
        .into_iter()
        .map(|((stage, turn), mut gaps)| {
            gaps.sort_unstable();
            Stall {
                stage,
                turn: turn.to_string(),
                deals: gaps.len() as u64,
                median_gap_seconds: percentile(&gaps, 50),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.deals
            .cmp(&a.deals)
            .then(b.median_gap_seconds.cmp(&a.median_gap_seconds))
            .then_with(|| a.stage.cmp(&b.stage))
            .then_with(|| a.turn.cmp(&b.turn))
    });
    out
}
