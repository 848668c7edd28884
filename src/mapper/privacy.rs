//! A column's `privacy:`: what becomes of a personal value before it is stored. `pseudonymize`
//! is HMAC-SHA256 with the project's secret (`WEIR_HASH_SECRET`), so the same email hashes alike
//! in every source and on every engine and still joins; `drop` stores NULL; `mask` and `redact`
//! keep a shape (`crate::pii`). The secret is held here and never shown: its `Debug` is `***`,
//! and what leaves this module is its fingerprint, never the secret.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::engine::Value;
use crate::pii;

/// What `privacy:` does to a column's value, after its `type:` has converted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// HMAC-SHA256 of the normalised text, 64 lowercase hex digits.
    Pseudonymize,
    /// Never stored: the column is NULL.
    Drop,
    /// The whole value becomes its masked shape (`pii::mask_value`).
    Mask,
    /// Each email, phone number, IP address or token inside the text is masked; the rest kept.
    Redact,
    /// Stored as it is: `weir scan-pii` takes what it finds in the column as intended.
    Allow,
}

pub const PRIVACY_NAMES: [&str; 5] = ["pseudonymize", "drop", "mask", "redact", "allow"];

impl Privacy {
    pub fn named(name: &str) -> Option<Privacy> {
        Some(match name {
            "pseudonymize" => Privacy::Pseudonymize,
            "drop" => Privacy::Drop,
            "mask" => Privacy::Mask,
            "redact" => Privacy::Redact,
            "allow" => Privacy::Allow,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Privacy::Pseudonymize => "pseudonymize",
            Privacy::Drop => "drop",
            Privacy::Mask => "mask",
            Privacy::Redact => "redact",
            Privacy::Allow => "allow",
        }
    }

    /// Whether a path that `pii:` lists may be stored in such a column. `redact` does not: it
    /// masks only the shapes it knows (emails, phone numbers, addresses, tokens), and a listed
    /// value such as a user name is none of them.
    pub fn protects(self) -> bool {
        matches!(self, Privacy::Pseudonymize | Privacy::Drop | Privacy::Mask)
    }

    /// Whether a key column may be so: a key must stay whole and unique, which only a
    /// pseudonym does (a mask or a redaction gives many keys one value; a drop, none).
    pub fn keeps_keys(self) -> bool {
        matches!(self, Privacy::Pseudonymize | Privacy::Allow)
    }

    /// The stored value. `secret` is there whenever a mapper pseudonymises (the loader refuses
    /// to start without it).
    pub fn apply(self, value: Value, secret: Option<&Secret>) -> Value {
        let Value::Text(text) = value else {
            return match self {
                Privacy::Drop => Value::Null,
                _ => value,
            };
        };
        match self {
            // A blank value names nobody: one pseudonym for them all would join strangers.
            Privacy::Pseudonymize if text.trim().is_empty() => Value::Null,
            Privacy::Pseudonymize => match secret {
                Some(s) => Value::Text(s.pseudonymize(&text)),
                None => Value::Null,
            },
            Privacy::Drop => Value::Null,
            Privacy::Mask => Value::Text(pii::mask_value(&text)),
            Privacy::Redact => Value::Text(pii::redact(&text)),
            Privacy::Allow => Value::Text(text),
        }
    }
}

/// The shipped sample's secret, published in its `.env`: weir says so when it is in use, since
/// anyone can compute the pseudonyms it gives.
pub const SAMPLE_SECRET: &str = "weir-sample-secret-for-the-shipped-data-only";

/// Fewer bytes than this make the pseudonyms of a short list of emails guessable.
pub const MIN_SECRET_LEN: usize = 16;

/// `WEIR_HASH_SECRET`.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// The secret, or `None` when it is too short to protect anything.
    pub fn new(text: &str) -> Option<Secret> {
        (text.len() >= MIN_SECRET_LEN).then(|| Secret(text.as_bytes().to_vec()))
    }

    pub fn is_sample(&self) -> bool {
        self.0 == SAMPLE_SECRET.as_bytes()
    }

    /// The pseudonym of `value`: trimmed, and lower-cased when it is an email (holds an `@`),
    /// so `Ada@Example.com ` and `ada@example.com` join.
    pub fn pseudonymize(&self, value: &str) -> String {
        let value = value.trim();
        if value.contains('@') {
            hmac_hex(&self.0, value.to_lowercase().as_bytes())
        } else {
            hmac_hex(&self.0, value.as_bytes())
        }
    }

    /// A fingerprint that changes with the secret and tells nothing of it: the HMAC of a fixed
    /// label. Mapper fingerprints include it, so a new secret reloads every pseudonymised source.
    pub fn fingerprint(&self) -> String {
        hmac_hex(&self.0, b"weir: the fingerprint of WEIR_HASH_SECRET")
    }
}

/// HMAC-SHA256 of `message` with `key`, as 64 lowercase hex digits.
pub fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    let bytes = mac.finalize().into_bytes();
    let mut out = String::with_capacity(64);
    for b in bytes.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently with Python 3's hmac module:
    // hmac.new(key, message, hashlib.sha256).hexdigest()
    #[test]
    fn pseudonyms_match_independent_vectors() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let sample = Secret::new(SAMPLE_SECRET).unwrap();
        assert!(sample.is_sample());
        let ada = "9db95d86aa780ff86022f601f6c59b433487477893edd4c2ca7dfd736d1de5ba";
        assert_eq!(sample.pseudonymize("ada@acme.example"), ada);
        assert_eq!(sample.pseudonymize("  Ada@ACME.example\n"), ada);
        assert_eq!(
            sample.pseudonymize("10.0.0.7"),
            "15f59e6ede05ec2d74b4d701e6a418d9eb3b2b4f7ffd46adad6ac69b15517a81"
        );
        assert_eq!(
            sample.pseudonymize(""),
            "41f47ae08e77fcc30a9343e2eda300cd1a16136612a9c009dc0055dea1bfba19"
        );
        assert_eq!(
            sample.fingerprint(),
            "bc243e90087c558520473b0ad3eac1019b3e7c27249ec3f23498e69f9f5d572c"
        );
        let other = Secret::new("0123456789abcdef").unwrap();
        assert!(!other.is_sample());
        assert_eq!(
            other.pseudonymize("ada@acme.example"),
            "b3cc18f3299f0069f8bc4b358b0d379ea2d49b3da442d82555375190c8fcd40a"
        );
        // Phone numbers are only trimmed: the spaces are part of the value.
        assert_eq!(
            other.pseudonymize("+44 7700900101"),
            "4ffaf0c4f33410159f17600be0919a5a83cc9656c5cc64e225044eccc7ac65dc"
        );
    }

    #[test]
    fn the_secret_is_never_shown_and_must_be_long_enough() {
        assert!(Secret::new("short").is_none());
        assert!(Secret::new(&"x".repeat(MIN_SECRET_LEN - 1)).is_none());
        let s = Secret::new(SAMPLE_SECRET).unwrap();
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(!s.fingerprint().contains(SAMPLE_SECRET));
    }

    #[test]
    fn privacy_applies_to_text_and_drops_anything() {
        let s = Secret::new(SAMPLE_SECRET).unwrap();
        let text = |t: &str| Value::Text(t.into());
        assert_eq!(Privacy::Drop.apply(Value::Integer(3), None), Value::Null);
        assert_eq!(Privacy::Drop.apply(text("a@b.example"), None), Value::Null);
        assert_eq!(
            Privacy::Mask.apply(text("ada@acme.example"), None),
            text("***@acme.example")
        );
        assert_eq!(
            Privacy::Pseudonymize.apply(Value::Null, Some(&s)),
            Value::Null
        );
        assert_eq!(
            Privacy::Pseudonymize.apply(text("ada@acme.example"), Some(&s)),
            text(&s.pseudonymize("ada@acme.example"))
        );
        assert_eq!(
            Privacy::Redact.apply(text("from 10.0.0.7"), None),
            text("from 10.x.x.x")
        );
    }
}
