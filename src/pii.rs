//! What personal data looks like in text: emails, phone numbers, IPv4 and IPv6 addresses, bearer
//! tokens and API keys. `weir scan-pii` finds them; `privacy: mask` and `privacy: redact` replace
//! them with a shape that keeps what reports may need (an email's domain, a phone number's
//! country code) and nothing that names a person. The masked shapes never match a pattern again,
//! so a masked column passes the scan. Owns no I/O and knows nothing of mappers or engines.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

/// What a value found in text looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Email,
    Phone,
    Ipv4,
    Ipv6,
    Token,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Token => "token",
        }
    }
}

/// One match: its kind and byte range in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the patterns of pii.rs are valid regular expressions")
}

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}"));

/// Tokens by their vendors' published prefixes, `Bearer …`/`Token token=…` headers, and
/// `api_key: …`-style assignments. A bare run of hex is not a token here: ids and weir's own
/// pseudonyms look like that.
static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"(?i:\bbearer\s+[a-z0-9._~+/=-]{16,})",
        r"|(?i:\btoken\s+token=[a-z0-9._~+/=-]{16,})",
        r"|\bgh[pousr]_[A-Za-z0-9]{36}\b",
        r"|\bgithub_pat_[A-Za-z0-9_]{22,}",
        r"|\bsntr[ysu]_[A-Za-z0-9+/=_]{20,}",
        r"|\bxox[abprs]-[A-Za-z0-9-]{10,}",
        r"|\bAKIA[0-9A-Z]{16}\b",
        r"|\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
        r#"|(?i:\b(?:api[_-]?key|app[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|password)["']?\s*[:=]\s*["']?[a-z0-9._~+/-]{16,})"#,
    ))
});

/// With a `+` and a country code, or in the 3-3-4 form with separators. A bare run of digits is
/// not taken for a phone number: ids look like that (`privacy: mask` still masks such a value).
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d+){1,4}|(?:\(\d{3}\)[ .-]?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b",
    )
});

static IPV4: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"));

static IPV6: LazyLock<Regex> = LazyLock::new(|| regex(r"[0-9A-Fa-f:]{2,}"));

/// Every match in `text`, in order, none overlapping (a token wins over the email inside it, an
/// email over the digits inside it).
pub fn find(text: &str) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    let mut add = |kind: Kind, start: usize, end: usize| {
        if !found.iter().any(|f| start < f.end && f.start < end) {
            found.push(Found { kind, start, end });
        }
    };
    for m in TOKEN.find_iter(text) {
        add(Kind::Token, m.start(), m.end());
    }
    for m in EMAIL.find_iter(text) {
        add(Kind::Email, m.start(), m.end());
    }
    for m in IPV4.find_iter(text) {
        if is_ipv4(text, m.start(), m.end()) {
            add(Kind::Ipv4, m.start(), m.end());
        }
    }
    for m in IPV6.find_iter(text) {
        // A run of hex and colons may take in the colons around an address (`ip:2001:db8::7:`);
        // a `::` at either end is the address's own.
        let (mut start, mut end) = (m.start(), m.end());
        if text[start..end].starts_with(':') && !text[start..end].starts_with("::") {
            start += 1;
        }
        if text[start..end].ends_with(':') && !text[start..end].ends_with("::") {
            end -= 1;
        }
        if start < end && is_ipv6(text, start, end) {
            add(Kind::Ipv6, start, end);
        }
    }
    for m in PHONE.find_iter(text) {
        if is_phone(text, m.start(), m.end()) {
            add(Kind::Phone, m.start(), m.end());
        }
    }
    found.sort_by_key(|f| f.start);
    found
}

fn before(text: &str, at: usize) -> Option<char> {
    text[..at].chars().next_back()
}

fn after(text: &str, at: usize) -> Option<char> {
    text[at..].chars().next()
}

/// Four octets, not part of a longer dotted run (`1.2.3.4.5` is a version, not an address).
fn is_ipv4(text: &str, start: usize, end: usize) -> bool {
    let dotted = |c: Option<char>| c.is_some_and(|c| c == '.' || c.is_ascii_digit());
    text[start..end].parse::<Ipv4Addr>().is_ok()
        && !dotted(before(text, start))
        && !(after(text, end) == Some('.')
            && text[end + 1..].starts_with(|c: char| c.is_ascii_digit()))
}

/// An address with at least two groups, standing alone (`std::vec` and `10:30:00` are not).
fn is_ipv6(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
    // A full stop ends a sentence unless a word goes on after it (`::1.2` is no address).
    let goes_on =
        after(text, end) == Some('.') && text[end + 1..].starts_with(|c: char| c.is_alphanumeric());
    s.matches(':').count() >= 2
        && s.split(':').filter(|g| !g.is_empty()).count() >= 2
        && s.parse::<Ipv6Addr>().is_ok()
        && !word(before(text, start))
        && (!word(after(text, end)) || (after(text, end) == Some('.') && !goes_on))
}

/// From 7 to 15 digits (E.164), not inside a longer number or word.
fn is_phone(text: &str, start: usize, end: usize) -> bool {
    let digits = text[start..end]
        .chars()
        .filter(char::is_ascii_digit)
        .count();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    (7..=15).contains(&digits) && !word(before(text, start)) && !word(after(text, end))
}

/// The masked shape of a match of `kind`:
/// - an email keeps its domain: `***@example.com`;
/// - a phone number keeps its country code when written `+CC` and a separator: `+44 ***`, else `+***` or `***`;
/// - an IPv4 address keeps its first octet: `10.x.x.x`; an IPv6 address its first group: `2001:x:x`;
/// - a token becomes `***`.
pub fn mask(kind: Kind, text: &str) -> String {
    let text = text.trim();
    match kind {
        Kind::Email => match text.rsplit_once('@') {
            Some((_, domain)) => format!("***@{}", domain.to_lowercase()),
            None => "***".into(),
        },
        Kind::Phone => phone_mask(text),
        Kind::Ipv4 => format!("{}.x.x.x", text.split('.').next().unwrap_or("x")),
        Kind::Ipv6 => format!(
            "{}:x:x",
            text.split(':').find(|g| !g.is_empty()).unwrap_or("x")
        ),
        Kind::Token => "***".into(),
    }
}

fn phone_mask(text: &str) -> String {
    let Some(rest) = text.strip_prefix('+') else {
        return "***".into();
    };
    let code: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let separated = rest[code.len()..].starts_with([' ', '-', '.', '(']);
    if (1..=3).contains(&code.len()) && separated {
        format!("+{code} ***")
    } else {
        "+***".into()
    }
}

/// `privacy: mask` of a whole value: an email, a phone number (digits with `+ ()-.` and spaces
/// only, a bare run of digits too) or an IP address keeps its shape as `mask` says; any other
/// text becomes `***`.
pub fn mask_value(text: &str) -> String {
    let t = text.trim();
    if EMAIL
        .find(t)
        .is_some_and(|m| m.start() == 0 && m.end() == t.len())
    {
        return mask(Kind::Email, t);
    }
    if t.parse::<Ipv4Addr>().is_ok() {
        return mask(Kind::Ipv4, t);
    }
    if t.parse::<Ipv6Addr>().is_ok() {
        return mask(Kind::Ipv6, t);
    }
    let phone_chars = t
        .chars()
        .all(|c| c.is_ascii_digit() || " +()-.".contains(c));
    if phone_chars && t.chars().filter(char::is_ascii_digit).count() >= 5 {
        return mask(Kind::Phone, t);
    }
    "***".into()
}

/// `privacy: redact`: the text with every match masked in place, the rest kept.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in find(text) {
        out.push_str(&text[at..f.start]);
        out.push_str(&mask(f.kind, &text[f.start..f.end]));
        at = f.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, &str)> {
        find(text)
            .into_iter()
            .map(|f| (f.kind, &text[f.start..f.end]))
            .collect()
    }

    #[test]
    fn finds_what_looks_personal() {
        assert_eq!(
            kinds("mail Ada@Acme.example from 10.1.2.3, call +44 7700 900101"),
            vec![
                (Kind::Email, "Ada@Acme.example"),
                (Kind::Ipv4, "10.1.2.3"),
                (Kind::Phone, "+44 7700 900101"),
            ]
        );
        assert_eq!(
            kinds("(617) 555-0111"),
            vec![(Kind::Phone, "(617) 555-0111")]
        );
        assert_eq!(
            kinds("fe80::1ff:fe23:4567:890a"),
            vec![(Kind::Ipv6, "fe80::1ff:fe23:4567:890a")]
        );
        // Found beside the colons and the full stop of the text around them.
        assert_eq!(
            kinds("ip:2001:db8::7, from 2001:db8::8. then 2001:db8::9: refused"),
            vec![
                (Kind::Ipv6, "2001:db8::7"),
                (Kind::Ipv6, "2001:db8::8"),
                (Kind::Ipv6, "2001:db8::9"),
            ]
        );
        assert_eq!(
            kinds("call (617)555-0111"),
            vec![(Kind::Phone, "(617)555-0111")]
        );
        assert_eq!(
            kinds("Authorization: Bearer abcdefghijklmnop1234"),
            vec![(Kind::Token, "Bearer abcdefghijklmnop1234")]
        );
        assert_eq!(
            kinds(r#"{"api_key": "0123456789abcdef0123"}"#),
            vec![(Kind::Token, r#"api_key": "0123456789abcdef0123"#)]
        );
        assert_eq!(
            kinds("ghp_0123456789abcdefghijABCDEFGHIJ012345"),
            vec![(Kind::Token, "ghp_0123456789abcdefghijABCDEFGHIJ012345")]
        );
    }

    #[test]
    fn leaves_ids_times_versions_and_pseudonyms_alone() {
        for text in [
            "6104870085",
            "2026-05-01T09:30:00+05:00",
            "2026-05-01 14:30:15",
            "10:30:00",
            "std::vec::Vec",
            "1.2.3.4.5",
            "v1.14.2",
            "P7X9Q2A",
            "aa:bb:cc:dd:ee:ff",
            "2b4f0e6c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c",
            "***@acme.example",
            "+44 ***",
            "10.x.x.x",
            "2001:x:x",
            "user id:u_104455",
        ] {
            assert_eq!(kinds(text), vec![], "{text}");
        }
    }

    #[test]
    fn masks_keep_the_shape_and_never_match_again() {
        assert_eq!(mask_value(" Ada@ACME.example "), "***@acme.example");
        assert_eq!(mask_value("+44 7700900101"), "+44 ***");
        assert_eq!(mask_value("+1-808-555-0110"), "+1 ***");
        assert_eq!(mask_value("+447700900101"), "+***");
        assert_eq!(mask_value("9855550109"), "***");
        assert_eq!(mask_value("192.168.0.7"), "192.x.x.x");
        assert_eq!(mask_value("2001:db8::7"), "2001:x:x");
        assert_eq!(mask_value("device-token-abc"), "***");
        assert_eq!(
            redact("email:ada@acme.example, ip:10.0.0.7, id:u_1"),
            "email:***@acme.example, ip:10.x.x.x, id:u_1"
        );
        for v in [
            "ada@acme.example",
            "+1 808 555 0110",
            "10.0.0.7",
            "fe80::1:2",
            "Bearer abcdefghijklmnopq",
        ] {
            assert_eq!(find(&redact(v)), vec![], "{v}");
            assert_eq!(find(&mask_value(v)), vec![], "{v}");
        }
    }
}
