//! The return date an out-of-office reply states, read deterministically from its own words
//! (subject and new text, never the quoted original) in English, German and French. Pure: the
//! reply's Date header stands for "now", and a date is kept only when it lies after that day
//! and within [`OOO_HORIZON_DAYS`]. Whether a message is an out-of-office is `auto`'s call.

/// Longest absence a return date may announce, in days after the auto-reply: a date further
/// out is more likely another date in the notice (a deadline, a season) than a return.
pub const OOO_HORIZON_DAYS: i64 = 60;

/// Words that, shortly before a date, say it is when the sender is back (or absent until).
const RETURN_CUES: &[&str] = &[
    "back",
    "return",
    "returning",
    "returns",
    "until",
    "till",
    "through",
    "office",
    "zurück",
    "bis",
    "wieder",
    "ab",
    "büro",
    "retour",
    "jusqu",
    "partir",
    "bureau",
    "revenu",
    "revenue",
];

/// How far before a date its cue may stand, in characters.
const CUE_WINDOW: usize = 60;

/// The return date an out-of-office notice states, found deterministically (no model call):
/// the latest date in `subject` and `text` with a return cue shortly before it ("back on 12
/// December", "bis 05.12.2026", "zurück am 3. Dezember", "de retour le 4 décembre"), a date
/// without a year being its next occurrence after `sent`. Kept only when it falls after the
/// day of `sent` and at most [`OOO_HORIZON_DAYS`] later; returned as Unix seconds of its
/// 00:00 UTC. An ambiguous `5/12/2026` (day or month first) is ignored.
pub(super) fn return_date(subject: &str, text: &str, sent: Option<i64>) -> Option<i64> {
    use chrono::{Datelike, NaiveDate};
    let sent = chrono::DateTime::from_timestamp(sent?, 0)?.date_naive();
    let all = format!("{subject}\n{text}");
    let mut best: Option<NaiveDate> = None;
    for m in super::dates::find_dates(&all) {
        if m.alt.is_some() || !cued(&all[..m.start]) {
            continue;
        }
        let date = match m.year {
            Some(y) => NaiveDate::from_ymd_opt(y, m.month, m.day),
            None => {
                let this = NaiveDate::from_ymd_opt(sent.year(), m.month, m.day);
                match this {
                    Some(d) if d > sent => Some(d),
                    _ => NaiveDate::from_ymd_opt(sent.year() + 1, m.month, m.day),
                }
            }
        };
        let Some(date) = date else { continue };
        let ahead = (date - sent).num_days();
        if (1..=OOO_HORIZON_DAYS).contains(&ahead) && best.is_none_or(|b| date > b) {
            best = Some(date);
        }
    }
    Some(best?.and_hms_opt(0, 0, 0)?.and_utc().timestamp())
}

/// Does a return cue stand as a word in the last [`CUE_WINDOW`] characters of `before`?
fn cued(before: &str) -> bool {
    let tail: String = before
        .chars()
        .rev()
        .take(CUE_WINDOW)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_lowercase();
    tail.split(|c: char| !c.is_alphabetic())
        .any(|w| RETURN_CUES.contains(&w))
}

#[cfg(test)]
mod tests {
    //! Return dates through `parse` as a whole, from auto-replies dated Mon 23 Nov 2026.
    use crate::parse::{parse, Email};

    fn mail(headers: &str, body: &str) -> Email {
        let raw = format!(
            "From: Anna <anna@buyer.example>\r\nTo: sales@shop.example\r\n\
             Message-ID: <m@buyer.example>\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\n\
             {headers}\r\n{body}"
        );
        parse(raw.as_bytes()).unwrap()
    }

    fn day(s: &str) -> i64 {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    }

    #[test]
    fn out_of_office_return_date_in_english_german_french_and_iso() {
        // The auto-replies are dated Mon 23 Nov 2026.
        let auto = "Subject: Automatic reply: Offer\r\nAuto-Submitted: auto-replied\r\n";
        let cases: Vec<(&str, Option<&str>)> = vec![
            (
                "I am out of the office until 05.12.2026 with limited access to e-mail.",
                Some("2026-12-05"),
            ),
            (
                "Thank you for your message. I will be back on 12 December.",
                Some("2026-12-12"),
            ),
            (
                "Ich bin im Urlaub und ab dem 3. Dezember wieder im Büro.",
                Some("2026-12-03"),
            ),
            (
                "Vielen Dank. Ich bin zurück am 3. Dezember.",
                Some("2026-12-03"),
            ),
            (
                "Je suis absente. De retour le 4 décembre.",
                Some("2026-12-04"),
            ),
            (
                "Je suis absent jusqu'au 4 décembre 2026 inclus.",
                Some("2026-12-04"),
            ),
            ("Out of office, returning 2026-12-07.", Some("2026-12-07")),
            (
                "I am away from 1 December until 14 December.",
                Some("2026-12-14"),
            ),
            // A yearless date before the reply's own is next year's: over 60 days, ignored.
            ("I am back on 20 November.", None),
            // Too far ahead, in the past, or today: ignored.
            ("I am on parental leave until 15 March 2027.", None),
            ("I was back on 20.11.2026.", None),
            ("I am back on 23 November 2026.", None),
            // No return cue before the date; a date that reads either way.
            ("I am away. Our prices change on 18 December.", None),
            ("I am back on 7/12/2026.", None),
            ("I am on holiday with limited access to e-mail.", None),
        ];
        for (body, want) in cases {
            let e = mail(auto, &format!("{body}\r\n"));
            assert!(e.out_of_office, "{body}");
            assert_eq!(e.ooo_until, want.map(day), "{body}");
        }
    }

    #[test]
    fn a_return_date_is_read_only_from_an_out_of_office_reply_and_its_own_words() {
        // A person writing about their return is no auto-reply.
        let e = mail(
            "Subject: Re: Offer\r\n",
            "I am back on 12 December, can we talk then?\r\n",
        );
        assert_eq!((e.out_of_office, e.ooo_until), (false, None));
        // The quoted original's dates are not the sender's.
        let e = mail(
            "Subject: Automatic reply: Offer\r\nAuto-Submitted: auto-replied\r\n",
            "I am out of the office.\r\n\r\nOn Mon, 23 Nov 2026, Alice wrote:\r\n\
             > We can deliver until 10 December.\r\n",
        );
        assert!(e.out_of_office);
        assert_eq!(e.ooo_until, None, "{e:?}");
        // The subject counts too.
        let e = mail(
            "Subject: Out of office until 4 December\r\nAuto-Submitted: auto-replied\r\n",
            "Thank you for your message.\r\n",
        );
        assert_eq!(e.ooo_until, Some(day("2026-12-04")));
    }
}
