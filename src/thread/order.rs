//! The order of a thread's messages: causality before clocks. A message that names another
//! of the thread in In-Reply-To or References comes after it, whatever its Date says (a
//! buyer's clock an hour late must not put our answer before their question); the Date only
//! orders what causality leaves free.

use super::ancestors;
use crate::parse::Email;
use std::collections::{BTreeSet, HashMap};

/// Sorts `messages` oldest first: a stable topological order of the reply links within the
/// thread, ties broken by (Date, Message-ID). Undated messages count as older than any dated
/// one, so one that names no parent comes first (it never starts a wait) and one that replies
/// comes right after what it answers. A cycle of links (a corrupt or hostile header) is broken
/// at its oldest message. O(n log n + links); the links per message are capped by `parse`.
pub fn order(messages: &mut Vec<Email>) {
    let n = messages.len();
    let index: HashMap<&str, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, e)| (e.message_id.as_str(), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting = vec![0usize; n];
    for (i, e) in messages.iter().enumerate() {
        for a in ancestors(e) {
            if let Some(&p) = index.get(a) {
                if p != i {
                    children[p].push(i);
                    waiting[i] += 1;
                }
            }
        }
    }
    let rank = |i: usize| {
        let e = &messages[i];
        (e.date.unwrap_or(i64::MIN), e.message_id.clone(), i)
    };
    let mut ready: BTreeSet<(i64, String, usize)> =
        (0..n).filter(|&i| waiting[i] == 0).map(rank).collect();
    let mut unplaced: BTreeSet<(i64, String, usize)> = (0..n).map(rank).collect();
    let mut sequence = Vec::with_capacity(n);
    while sequence.len() < n {
        let next = match ready.pop_first() {
            Some(r) => r,
            // Only a cycle is left waiting: take its oldest message as if it were free.
            None => match unplaced.first() {
                Some(r) => r.clone(),
                None => break,
            },
        };
        let i = next.2;
        unplaced.remove(&next);
        if waiting[i] == usize::MAX {
            continue;
        }
        waiting[i] = usize::MAX;
        sequence.push(i);
        for &c in &children[i] {
            if waiting[c] != usize::MAX {
                waiting[c] = waiting[c].saturating_sub(1);
                if waiting[c] == 0 {
                    ready.insert(rank(c));
                }
            }
        }
    }
    let mut slots: Vec<Option<Email>> = std::mem::take(messages).into_iter().map(Some).collect();
    messages.extend(sequence.into_iter().filter_map(|i| slots[i].take()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(id: &str, irt: Option<&str>) -> Email {
        Email {
            message_id: id.into(),
            in_reply_to: irt.map(Into::into),
            references: vec![],
            from: None,
            reply_to: vec![],
            to: vec![],
            cc: vec![],
            date: None,
            subject: String::new(),
            new_text: String::new(),
            text: String::new(),
            automated: None,
            out_of_office: false,
            ooo_until: None,
        }
    }

    fn dated(mut e: Email, date: Option<i64>) -> Email {
        e.date = date;
        e
    }

    fn ids(messages: &[Email]) -> Vec<&str> {
        messages.iter().map(|e| e.message_id.as_str()).collect()
    }

    /// 1.3.2: a reply comes after what it answers, whatever its Date says; the Date orders the
    /// rest; an undated message with no parent comes first; a cycle of links still orders.
    #[test]
    fn a_reply_comes_after_its_parent_whatever_its_date() {
        let q = |id: &str, irt: Option<&str>, date: Option<i64>| dated(mail(id, irt), date);
        let cases: Vec<(Vec<Email>, Vec<&str>)> = vec![
            // Our answer is dated an hour before the buyer's skewed question it names.
            (
                vec![q("ans", Some("q"), Some(1000)), q("q", None, Some(4600))],
                vec!["q", "ans"],
            ),
            // Unrelated messages keep date order; the reply follows its parent at once when
            // nothing later came in between.
            (
                vec![
                    q("x", None, Some(5000)),
                    q("q", None, Some(4600)),
                    q("ans", Some("q"), Some(1000)),
                ],
                vec!["q", "ans", "x"],
            ),
            // A chain written backwards in time.
            (
                vec![
                    q("c", Some("b"), Some(1)),
                    q("b", Some("a"), Some(2)),
                    q("a", None, Some(3)),
                ],
                vec!["a", "b", "c"],
            ),
            // Undated without a parent: first; undated reply: after its parent.
            (
                vec![
                    q("u", None, None),
                    q("a", None, Some(10)),
                    q("r", Some("a"), None),
                ],
                vec!["u", "a", "r"],
            ),
            // A hostile cycle (each names the other) is broken at the oldest.
            (
                vec![q("p", Some("o"), Some(20)), q("o", Some("p"), Some(10))],
                vec!["o", "p"],
            ),
            // A parent not in the thread constrains nothing.
            (
                vec![q("k", Some("gone"), Some(9)), q("j", None, Some(8))],
                vec!["j", "k"],
            ),
        ];
        for (mut messages, want) in cases {
            order(&mut messages);
            assert_eq!(ids(&messages), want);
        }
    }
}
