//! Test messages as the tests write them: exactly these headers (a builder would only hide
//! them), and dates counted in business days back from now. Mail with other headers (Cc,
//! Reply-To, list headers) is written out where a test needs it.

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};

/// A plain-text message; `parent` makes it a reply (In-Reply-To and References).
pub fn mail(
    id: &str,
    from: &str,
    to: &str,
    subject: &str,
    date: DateTime<Utc>,
    parent: Option<&str>,
    body: &str,
) -> String {
    let mut h = format!(
        "Message-ID: <{id}>\r\nDate: {}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n",
        date.to_rfc2822()
    );
    if let Some(p) = parent {
        h.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
    }
    format!("{h}\r\n{body}\r\n")
}

/// A moment `n` weekdays before now, same time of day.
pub fn business_days_ago(n: u32) -> DateTime<Utc> {
    let mut t = Utc::now();
    let mut left = n;
    while left > 0 {
        t -= Duration::days(1);
        if !matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    t
}
