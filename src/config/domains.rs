//! Which addresses belong together: free-mail domains (where everyone stands alone, so
//! gmail.com is no organisation), plus-tags (`alice+web@` is `alice@`) and subdomains. The one
//! maintained list of free-mail domains lives here, for every stage that asks "same
//! organisation?", and so does [`Identity`], the mailbox's own addresses and colleagues'
//! domains matched by those rules. Pure string work.

/// Domains where an address is one person, not an organisation: web mail and ISP mail
/// services common among small businesses (world-wide, DACH, FR, IT, ES, NL, Nordic).
/// Lower-case, sorted, so `binary_search` works (a test checks the order).
const FREEMAIL: &[&str] = &[
    "aim.com",
    "aol.com",
    "arcor.de",
    "bluewin.ch",
    "btinternet.com",
    "comcast.net",
    "email.de",
    "fastmail.com",
    "free.fr",
    "freenet.de",
    "gmail.com",
    "gmx.at",
    "gmx.ch",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hey.com",
    "hotmail.co.uk",
    "hotmail.com",
    "hotmail.de",
    "hotmail.fr",
    "icloud.com",
    "laposte.net",
    "libero.it",
    "live.com",
    "live.de",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "naver.com",
    "orange.fr",
    "outlook.com",
    "outlook.de",
    "posteo.de",
    "proton.me",
    "protonmail.com",
    "qq.com",
    "seznam.cz",
    "sfr.fr",
    "t-online.de",
    "tutanota.com",
    "virgilio.it",
    "wanadoo.fr",
    "web.de",
    "yahoo.co.uk",
    "yahoo.com",
    "yahoo.de",
    "yahoo.fr",
    "yandex.ru",
    "ymail.com",
    "zoho.com",
];

/// Is `domain` a free-mail service, where each address is its own person?
pub fn is_freemail(domain: &str) -> bool {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    FREEMAIL.binary_search(&d.as_str()).is_ok()
}

/// The address lower-cased, with a `+tag` on the local part removed (RFC 5233 subaddress):
/// `Alice+Web@Shop.Example` -> `alice@shop.example`.
pub fn canonical(email: &str) -> String {
    let email = email.trim().to_ascii_lowercase();
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let base = local.split_once('+').map_or(local, |(b, _)| b);
            if base.is_empty() {
                email.clone()
            } else {
                format!("{base}@{domain}")
            }
        }
        None => email,
    }
}

/// The domain of an address, lower-cased ("" when there is no `@`).
pub fn domain_of(email: &str) -> String {
    email
        .trim()
        .rsplit_once('@')
        .map_or(String::new(), |(_, d)| d.to_ascii_lowercase())
}

/// Is `domain` the domain `parent` or one of its subdomains (`de.example.com` under
/// `example.com`)?
pub fn within(domain: &str, parent: &str) -> bool {
    let domain = domain.trim().to_ascii_lowercase();
    let parent = parent.trim().trim_start_matches('@').to_ascii_lowercase();
    !parent.is_empty()
        && (domain == parent
            || domain
                .strip_suffix(parent.as_str())
                .is_some_and(|rest| rest.ends_with('.')))
}

/// Do two addresses belong to one organisation: the same person (plus-tags aside), or the same
/// domain that is not a free-mail service?
pub fn same_organisation(a: &str, b: &str) -> bool {
    if canonical(a) == canonical(b) {
        return true;
    }
    let (da, db) = (domain_of(a), domain_of(b));
    !da.is_empty() && da == db && !is_freemail(&da)
}

/// Who "we" are: own addresses and aliases, and the domains of colleagues. All lower-case.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub addresses: Vec<String>,
    pub internal_domains: Vec<String>,
}

impl Identity {
    /// Is this one of our own addresses or aliases (case-insensitive; a `+tag` is ignored, so
    /// mail to `alice+web@` is mail to `alice@`)?
    pub fn own_address(&self, email: &str) -> Option<&str> {
        let email = canonical(email);
        self.addresses
            .iter()
            .find(|a| canonical(a) == email)
            .map(String::as_str)
    }

    /// Is this one of our own addresses or aliases (see [`Identity::own_address`])?
    pub fn is_own(&self, email: &str) -> bool {
        self.own_address(email).is_some()
    }

    /// Is this us or a colleague (an address at an internal domain or one of its subdomains,
    /// so `de.example.com` is internal when `example.com` is)?
    pub fn is_internal(&self, email: &str) -> bool {
        if self.is_own(email) {
            return true;
        }
        let email = email.trim();
        match email.rsplit_once('@') {
            Some((_, domain)) => self.internal_domains.iter().any(|d| within(domain, d)),
            None => false,
        }
    }

    /// The address drafts are written from.
    pub fn primary(&self) -> &str {
        &self.addresses[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freemail_list_is_sorted_and_lower_case() {
        let mut sorted = FREEMAIL.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, FREEMAIL);
        assert!(FREEMAIL.iter().all(|d| *d == d.to_ascii_lowercase()));
    }

    #[test]
    fn organisations() {
        assert!(is_freemail("GMail.com"));
        assert!(!is_freemail("buyer.example"));
        assert!(same_organisation(
            "anna@buyer.example",
            "Carl@Buyer.Example"
        ));
        assert!(!same_organisation("anna@gmail.com", "carl@gmail.com"));
        assert!(same_organisation("anna+x@gmail.com", "anna@gmail.com"));
        assert!(!same_organisation(
            "anna@buyer.example",
            "anna@other.example"
        ));
        assert_eq!(canonical("Alice+Web@Shop.Example"), "alice@shop.example");
        assert_eq!(canonical("+x@shop.example"), "+x@shop.example");
        assert!(within("de.example.com", "example.com"));
        assert!(within("example.com", "@Example.com"));
        assert!(!within("badexample.com", "example.com"));
        assert!(!within("example.com", ""));
    }
}
