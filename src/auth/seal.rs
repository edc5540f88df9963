//! Sealed Z reports (ADR 0027): a Z report names the head of its store's hash chain at its
//! closing event and is signed with Ed25519, the key from the configuration; the public key
//! is published (`GET /api/v1/audit/public-key`), so that anyone holding a printed Z report
//! can check that the chain held these figures that evening.
//!
//! What is signed: the canonical JSON (object keys sorted, no whitespace; the values are
//! integers, strings, booleans, nulls, arrays and objects only) of
//! `{"chain": {"stream", "seq", "head"}, "report": <the Z report without its seal and
//! without its late addendum>}`.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::Value;

use super::AuthError;

pub struct SealKey {
    signing: SigningKey,
}

impl SealKey {
    /// The key whose 32-byte seed is `seed_hex` (64 hexadecimal characters).
    pub fn from_seed_hex(seed_hex: &str) -> Result<Self, AuthError> {
        let seed: [u8; 32] = hex::decode(seed_hex.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(AuthError::BadSealKey)?;
        Ok(Self {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// A new random key, and its seed in hexadecimal (to keep).
    pub fn generate() -> (Self, String) {
        let seed: [u8; 32] = rand::random();
        let key = Self {
            signing: SigningKey::from_bytes(&seed),
        };
        (key, hex::encode(seed))
    }

    /// The public key, hexadecimal (32 bytes).
    pub fn public_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().as_bytes())
    }

    /// The signature of `value`'s canonical JSON, hexadecimal (64 bytes).
    pub fn sign(&self, value: &Value) -> String {
        hex::encode(self.signing.sign(&canonical(value)).to_bytes())
    }
}

/// Whether `signature_hex` is the signature of `value` by the key `public_hex`.
pub fn verify(public_hex: &str, value: &Value, signature_hex: &str) -> bool {
    let key = hex::decode(public_hex)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok());
    let signature = hex::decode(signature_hex)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b));
    match (key, signature) {
        (Some(key), Some(signature)) => key.verify(&canonical(value), &signature).is_ok(),
        _ => false,
    }
}

/// `value` as canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace.
pub fn canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String(key.clone()).to_string().as_bytes());
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_signature_holds_for_the_same_content_in_any_key_order_and_fails_on_an_edit() {
        let (key, seed) = SealKey::generate();
        let again = SealKey::from_seed_hex(&seed).expect("the seed reads back");
        assert_eq!(again.public_hex(), key.public_hex());
        let report = json!({"report": {"z_number": 3, "total_cents": 1042}, "chain": {"seq": 12}});
        let signature = key.sign(&report);
        let reordered =
            json!({"chain": {"seq": 12}, "report": {"total_cents": 1042, "z_number": 3}});
        assert!(verify(&key.public_hex(), &reordered, &signature));
        let edited = json!({"chain": {"seq": 12}, "report": {"total_cents": 1043, "z_number": 3}});
        assert!(!verify(&key.public_hex(), &edited, &signature));
        assert_eq!(
            canonical(&json!({"b": [1, "é"], "a": null})),
            "{\"a\":null,\"b\":[1,\"é\"]}".as_bytes().to_vec()
        );
        assert!(SealKey::from_seed_hex("00").is_err());
    }
}
