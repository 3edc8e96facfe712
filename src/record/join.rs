//! Folding joined threads into one deal: a thread said to continue another thread's deal
//! ([`Known::joins`]) becomes a further thread of that deal; chains follow to the root deal,
//! and a join to a thread that is no deal, or a cycle, is ignored (the thread stands alone).
//! Pure, called by [`Builder::finish`](super::Builder::finish) once every thread is read; it
//! does not decide who said what (the caller resolves the user's word over the model's).

use super::{Deal, Known};
use crate::config::MailboxConfig;
use std::collections::{BTreeSet, HashMap};

/// Folds every deal whose thread joins another deal into that deal (see the module comment):
/// its threads (all in order of their first touch), contacts, stage knowledge and the reason
/// (`joined`, in the order of the joined threads).
/// The root keeps its id, company and owner; the value is the latest-opened thread's that
/// states one.
pub(super) fn fold<'a>(
    deals: Vec<(Deal, Known, &'a MailboxConfig)>,
) -> Vec<(Deal, Known, &'a MailboxConfig)> {
    let index: HashMap<&str, usize> = deals
        .iter()
        .enumerate()
        .map(|(i, (d, _, _))| (d.id.as_str(), i))
        .collect();
    let target: Vec<Option<usize>> = deals
        .iter()
        .enumerate()
        .map(|(i, (_, k, _))| {
            k.joins
                .as_ref()
                .and_then(|(to, _, _)| index.get(to.as_str()).copied())
                .filter(|&j| j != i)
        })
        .collect();
    let root = |i: usize| {
        let mut seen = BTreeSet::from([i]);
        let mut at = i;
        while let Some(next) = target[at] {
            if !seen.insert(next) {
                // A cycle has no root: the thread stands alone.
                return i;
            }
            at = next;
        }
        at
    };
    let roots: Vec<usize> = (0..deals.len()).map(root).collect();
    let mut slots: Vec<Option<(Deal, Known, &'a MailboxConfig)>> =
        deals.into_iter().map(Some).collect();
    let opened = |d: &Deal| d.touches().map(|t| t.at).min();
    // Per root: (the joined thread's first touch and id, the reason).
    type Reason = ((Option<i64>, String), String);
    let mut reasons: Vec<Vec<Reason>> = vec![Vec::new(); slots.len()];
    for (i, &r) in roots.iter().enumerate() {
        if r == i {
            continue;
        }
        let Some((member, known, _)) = slots[i].take() else {
            continue;
        };
        let Some((deal, into, _)) = slots[r].as_mut() else {
            continue;
        };
        let first = member
            .threads
            .first()
            .and_then(|t| t.touches.first())
            .map(|t| t.at);
        if let Some((_, reason, _)) = &known.joins {
            reasons[r].push(((first, member.id.clone()), reason.clone()));
        }
        if member.value.is_some() && (deal.value.is_none() || opened(&member) >= opened(deal)) {
            deal.value = member.value.clone();
        }
        deal.contacts.extend(member.contacts);
        deal.contacts.sort();
        deal.contacts.dedup();
        deal.threads.extend(member.threads);
        deal.threads
            .sort_by_key(|t| (t.touches.first().map(|t| t.at), t.id.clone()));
        into.inferred.extend(known.inferred);
        into.corrections.extend(known.corrections);
    }
    // The reasons in the order of the joined threads (as `threads` lists them, the root left
    // out), so each reads beside its thread.
    for (slot, mut why) in slots.iter_mut().zip(reasons) {
        if let Some((deal, _, _)) = slot {
            why.sort();
            deal.joined
                .extend(why.into_iter().map(|(_, reason)| reason));
        }
    }
    slots.into_iter().flatten().collect()
}
