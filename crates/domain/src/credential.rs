//! Talent evaluation credentials (人才评价互认, issue 18): W3C Verifiable Credentials (Data Model
//! 2.0) secured with a Data Integrity proof of the `eddsa-jcs-2022` cryptosuite — Ed25519
//! (`ed25519-dalek`) over SHA-256 hashes of the JCS (RFC 8785, `serde_jcs`) canonical forms of the
//! proof options and of the credential — and revocation by a W3C Bitstring Status List, itself a
//! credential signed the same way.
//!
//! Everything here is pure: signing takes the key, verification takes the published issuers and
//! the status lists at hand, so a node with no connection to the issuer (or the command line,
//! offline) checks a credential with the issuers file alone.
//!
//! Ids: an issuer is `urn:xietong:issuer:{region_code}` with one verification method
//! `…#key-1` (a `Multikey`, `publicKeyMultibase` = `z` + base58btc(0xed 0x01 ‖ key)); a status
//! list is `urn:xietong:status:{list}`, served at `GET /api/v1/credentials/status/{list}`.

use std::io::{Read, Write};

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The VC 2.0 base context.
pub const CONTEXT_V2: &str = "https://www.w3.org/ns/credentials/v2";
/// The Data Integrity cryptosuite used for every proof.
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
/// The credential type of a talent evaluation.
pub const CREDENTIAL_TYPE: &str = "TalentEvaluationCredential";
/// Bits in a status list: the specification's minimum (16 KiB), so a list hides which entry
/// a verifier looks at.
pub const STATUS_LIST_BITS: usize = 131_072;
/// Multicodec prefix of an Ed25519 public key.
const ED25519_PUB_PREFIX: [u8; 2] = [0xed, 0x01];

/// The issuer id of a region's authority.
pub fn issuer_id(region_code: &str) -> String {
    format!("urn:xietong:issuer:{region_code}")
}

/// The verification method (key id) of a region's issuing key.
pub fn verification_method(region_code: &str) -> String {
    format!("{}#key-1", issuer_id(region_code))
}

/// The id of a status list credential.
pub fn status_list_id(list: &str) -> String {
    format!("urn:xietong:status:{list}")
}

/// A public key as a Multikey `publicKeyMultibase`.
pub fn public_key_multibase(key: &VerifyingKey) -> String {
    let mut bytes = ED25519_PUB_PREFIX.to_vec();
    bytes.extend_from_slice(key.as_bytes());
    format!("z{}", bs58::encode(bytes).into_string())
}

/// Reads a `publicKeyMultibase` of an Ed25519 key.
pub fn decode_public_key(multibase: &str) -> Option<VerifyingKey> {
    let bytes = bs58::decode(multibase.strip_prefix('z')?).into_vec().ok()?;
    let key = bytes.strip_prefix(&ED25519_PUB_PREFIX)?;
    VerifyingKey::from_bytes(key.try_into().ok()?).ok()
}

/// A signing key from its 32 secret bytes.
pub fn signing_key(secret: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(secret)
}

/// A published issuer: one entry of `/.well-known/xietong/issuers.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issuer {
    pub id: String,
    pub region_code: String,
    /// The region's name (北京市, 雄安新区 …).
    pub name: String,
    #[serde(rename = "verificationMethod")]
    pub verification_method: Vec<VerificationMethod>,
}

/// A Multikey verification method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationMethod {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub controller: String,
    #[serde(rename = "publicKeyMultibase")]
    pub public_key_multibase: String,
}

impl Issuer {
    /// The issuer entry of a region's key.
    pub fn new(region_code: &str, name: &str, key: &VerifyingKey) -> Issuer {
        Issuer {
            id: issuer_id(region_code),
            region_code: region_code.to_string(),
            name: name.to_string(),
            verification_method: vec![VerificationMethod {
                id: verification_method(region_code),
                kind: "Multikey".into(),
                controller: issuer_id(region_code),
                public_key_multibase: public_key_multibase(key),
            }],
        }
    }
}

/// The issuers file: `{"issuers": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IssuersFile {
    pub issuers: Vec<Issuer>,
}

/// What a talent evaluation credential says.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// `urn:uuid:…`.
    pub id: String,
    pub issuer_region: String,
    pub issuer_name: String,
    /// The talent listing's id.
    pub talent_id: String,
    pub talent_name: String,
    /// 正高级工程师, 高级工程师, a talent-programme tier …
    pub level: String,
    pub field: String,
    pub valid_from: OffsetDateTime,
    pub valid_until: OffsetDateTime,
    pub status_list: String,
    pub status_index: u32,
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0).unwrap_or(at).format(&Rfc3339).unwrap_or_default()
}

/// The unsigned credential document of an evaluation.
pub fn unsigned_credential(evaluation: &Evaluation) -> Value {
    let status_id = status_list_id(&evaluation.status_list);
    json!({
        "@context": [CONTEXT_V2],
        "id": evaluation.id,
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": {"id": issuer_id(&evaluation.issuer_region), "name": evaluation.issuer_name},
        "validFrom": rfc3339(evaluation.valid_from),
        "validUntil": rfc3339(evaluation.valid_until),
        "credentialSubject": {
            "id": format!("urn:xietong:listing:{}", evaluation.talent_id),
            "type": "TalentEvaluation",
            "name": evaluation.talent_name,
            "level": evaluation.level,
            "field": evaluation.field,
            "region": evaluation.issuer_region,
        },
        "credentialStatus": {
            "id": format!("{status_id}#{}", evaluation.status_index),
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": evaluation.status_index.to_string(),
            "statusListCredential": status_id,
        },
    })
}

fn canonical(value: &Value) -> Result<Vec<u8>, Failure> {
    serde_jcs::to_vec(value).map_err(|err| Failure::Malformed(format!("not canonicalisable: {err}")))
}

/// The data an `eddsa-jcs-2022` proof signs: SHA-256(JCS(proof options)) ‖ SHA-256(JCS(document)).
fn hash_data(document: &Value, proof_options: &Value) -> Result<Vec<u8>, Failure> {
    let mut data = Sha256::digest(canonical(proof_options)?).to_vec();
    data.extend_from_slice(&Sha256::digest(canonical(document)?));
    Ok(data)
}

/// Adds a Data Integrity proof made with `key` as `verification_method` at `created`.
pub fn sign(document: &Value, key: &SigningKey, verification_method: &str, created: OffsetDateTime) -> Value {
    let mut unsigned = document.clone();
    if let Some(object) = unsigned.as_object_mut() {
        object.remove("proof");
    }
    let mut proof = json!({
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": rfc3339(created),
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    });
    let mut options = proof.clone();
    options["@context"] = unsigned["@context"].clone();
    // A document made by this module always canonicalises (no NaN, no lone surrogate).
    let data = hash_data(&unsigned, &options).unwrap_or_default();
    let signature = key.sign(&data);
    proof["proofValue"] = Value::String(format!("z{}", bs58::encode(signature.to_bytes()).into_string()));
    let mut signed = unsigned;
    signed["proof"] = proof;
    signed
}

/// Why a credential does not verify; the code is the one-word reason the API and the command
/// line show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("unknown issuer: {0}")]
    UnknownIssuer(String),
    #[error("bad signature: {0}")]
    BadSignature(String),
    #[error("expired: valid until {0}")]
    Expired(String),
    #[error("not yet valid: valid from {0}")]
    NotYetValid(String),
    #[error("revoked: entry {0} of its status list is set")]
    Revoked(String),
    /// The status list at hand is not the credential's, or is not genuine.
    #[error("status unverifiable: {0}")]
    StatusUnverifiable(String),
}

impl Failure {
    /// The reason's code: `malformed`, `unknown_issuer`, `bad_signature`, `expired`,
    /// `not_yet_valid`, `revoked`, `status_unverifiable`.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Malformed(_) => "malformed",
            Failure::UnknownIssuer(_) => "unknown_issuer",
            Failure::BadSignature(_) => "bad_signature",
            Failure::Expired(_) => "expired",
            Failure::NotYetValid(_) => "not_yet_valid",
            Failure::Revoked(_) => "revoked",
            Failure::StatusUnverifiable(_) => "status_unverifiable",
        }
    }
}

/// A credential that verified: who issued it and what it says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verified {
    pub id: String,
    pub issuer: String,
    pub issuer_region: String,
    pub level: String,
    pub field: String,
    /// The talent listing's id (from `credentialSubject.id`).
    pub talent_id: String,
    /// Whether the revocation status was checked (a status list was at hand).
    pub status_checked: bool,
}

fn text<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, Failure> {
    value.pointer(pointer).and_then(Value::as_str).ok_or_else(|| Failure::Malformed(format!("no {pointer}")))
}

fn parse_time(value: &Value, pointer: &str) -> Result<OffsetDateTime, Failure> {
    let raw = text(value, pointer)?;
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| Failure::Malformed(format!("{pointer} is not RFC 3339")))
}

/// Checks the proof of a signed document against the issuers; returns the issuer's id.
fn check_proof(document: &Value, issuers: &[Issuer]) -> Result<String, Failure> {
    if !document.is_object() {
        return Err(Failure::Malformed("not a JSON object".into()));
    }
    let issuer = match document.get("issuer") {
        Some(Value::String(id)) => id.clone(),
        Some(object @ Value::Object(_)) => text(object, "/id")?.to_string(),
        _ => return Err(Failure::Malformed("no issuer".into())),
    };
    let proof = document.get("proof").ok_or_else(|| Failure::Malformed("no proof".into()))?;
    if text(proof, "/type")? != "DataIntegrityProof" || text(proof, "/cryptosuite")? != CRYPTOSUITE {
        return Err(Failure::Malformed(format!("the proof is not a DataIntegrityProof of {CRYPTOSUITE}")));
    }
    let method = text(proof, "/verificationMethod")?;
    let proof_value = text(proof, "/proofValue")?;
    let known = issuers
        .iter()
        .find(|candidate| candidate.id == issuer)
        .ok_or_else(|| Failure::UnknownIssuer(issuer.clone()))?;
    let key = known
        .verification_method
        .iter()
        .find(|vm| vm.id == method)
        .ok_or_else(|| Failure::UnknownIssuer(format!("{issuer} has no key {method}")))?;
    let public = decode_public_key(&key.public_key_multibase)
        .ok_or_else(|| Failure::UnknownIssuer(format!("{method} is not an Ed25519 Multikey")))?;
    let signature_bytes = proof_value
        .strip_prefix('z')
        .and_then(|b58| bs58::decode(b58).into_vec().ok())
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .ok_or_else(|| Failure::Malformed("proofValue is not a base58btc Ed25519 signature".into()))?;
    let signature = Signature::from_bytes(&signature_bytes);
    let mut unsigned = document.clone();
    if let Some(object) = unsigned.as_object_mut() {
        object.remove("proof");
    }
    let mut options = proof.clone();
    if let Some(object) = options.as_object_mut() {
        object.remove("proofValue");
    }
    options["@context"] = unsigned.get("@context").cloned().unwrap_or(Value::Null);
    let data = hash_data(&unsigned, &options)?;
    public
        .verify(&data, &signature)
        .map_err(|_| Failure::BadSignature(format!("the proof does not match the document and {method}")))?;
    Ok(issuer)
}

/// Verifies a talent evaluation credential at `now`: shape, issuer, signature, validity period,
/// and — when its status list is among `status_lists` — revocation (the list's own proof is
/// checked against the same issuers).
pub fn verify(
    credential: &Value,
    issuers: &[Issuer],
    status_lists: &[Value],
    now: OffsetDateTime,
) -> Result<Verified, Failure> {
    let types = credential.get("type").and_then(Value::as_array).ok_or_else(|| Failure::Malformed("no type".into()))?;
    if !types.iter().any(|t| t == "VerifiableCredential") {
        return Err(Failure::Malformed("not a VerifiableCredential".into()));
    }
    let contexts = credential.get("@context").and_then(Value::as_array);
    if contexts.and_then(|c| c.first()).and_then(Value::as_str) != Some(CONTEXT_V2) {
        return Err(Failure::Malformed(format!("@context does not start with {CONTEXT_V2}")));
    }
    let id = text(credential, "/id")?.to_string();
    let issuer = check_proof(credential, issuers)?;
    let valid_from = parse_time(credential, "/validFrom")?;
    let valid_until = parse_time(credential, "/validUntil")?;
    if now < valid_from {
        return Err(Failure::NotYetValid(rfc3339(valid_from)));
    }
    if now > valid_until {
        return Err(Failure::Expired(rfc3339(valid_until)));
    }
    let subject =
        credential.get("credentialSubject").ok_or_else(|| Failure::Malformed("no credentialSubject".into()))?;
    let talent_id = text(subject, "/id")?.trim_start_matches("urn:xietong:listing:").to_string();
    let issuer_region = issuers.iter().find(|i| i.id == issuer).map(|i| i.region_code.clone()).unwrap_or_default();
    let mut verified = Verified {
        id,
        issuer: issuer.clone(),
        issuer_region,
        level: text(subject, "/level")?.to_string(),
        field: text(subject, "/field")?.to_string(),
        talent_id,
        status_checked: false,
    };
    if let Some(status) = credential.get("credentialStatus") {
        let list_id = text(status, "/statusListCredential")?;
        let index: usize = text(status, "/statusListIndex")?
            .parse()
            .map_err(|_| Failure::Malformed("statusListIndex is not a number".into()))?;
        if let Some(list) = status_lists.iter().find(|list| list.get("id").and_then(Value::as_str) == Some(list_id)) {
            let list_issuer = check_proof(list, issuers).map_err(|err| Failure::StatusUnverifiable(err.to_string()))?;
            if list_issuer != issuer {
                return Err(Failure::StatusUnverifiable(format!("{list_id} is signed by {list_issuer}, not {issuer}")));
            }
            let encoded = text(list, "/credentialSubject/encodedList")
                .map_err(|err| Failure::StatusUnverifiable(err.to_string()))?;
            if status_bit(encoded, index).map_err(Failure::StatusUnverifiable)? {
                return Err(Failure::Revoked(format!("{list_id}#{index}")));
            }
            verified.status_checked = true;
        }
    }
    Ok(verified)
}

/// The `encodedList` of a bitstring with the given entries set: multibase base64url (`u`, no
/// padding) of the GZIP'd bits, index 0 being the most significant bit of the first byte.
pub fn encode_status_list(set: &[u32]) -> String {
    let mut bits = vec![0u8; STATUS_LIST_BITS / 8];
    for &index in set {
        let index = index as usize;
        if index < STATUS_LIST_BITS {
            bits[index / 8] |= 0x80 >> (index % 8);
        }
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(&bits);
    let gzipped = encoder.finish().unwrap_or_default();
    format!("u{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(gzipped))
}

/// Whether entry `index` of an `encodedList` is set.
pub fn status_bit(encoded: &str, index: usize) -> Result<bool, String> {
    let raw = encoded.strip_prefix('u').ok_or("encodedList is not multibase base64url")?;
    let gzipped = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| "encodedList is not base64url".to_string())?;
    let mut bits = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .take(1 << 24)
        .read_to_end(&mut bits)
        .map_err(|_| "encodedList is not GZIP".to_string())?;
    let byte = bits.get(index / 8).ok_or_else(|| format!("index {index} is beyond the list"))?;
    Ok(byte & (0x80 >> (index % 8)) != 0)
}

/// The unsigned status list credential of `list`, issued by `issuer_region`, with `revoked` set.
pub fn unsigned_status_list(list: &str, issuer_region: &str, revoked: &[u32], now: OffsetDateTime) -> Value {
    let id = status_list_id(list);
    json!({
        "@context": [CONTEXT_V2],
        "id": id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id(issuer_region),
        "validFrom": rfc3339(now),
        "credentialSubject": {
            "id": format!("{id}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode_status_list(revoked),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    fn key(seed: u8) -> SigningKey {
        signing_key(&[seed; 32])
    }

    fn evaluation(now: OffsetDateTime) -> Evaluation {
        Evaluation {
            id: "urn:uuid:0190a4b2-0000-7000-8000-000000000001".into(),
            issuer_region: "133100".into(),
            issuer_name: "雄安新区".into(),
            talent_id: "0190a4b2-0000-7000-8000-0000000000aa".into(),
            talent_name: "张工".into(),
            level: "高级工程师".into(),
            field: "电子信息".into(),
            valid_from: now - Duration::days(1),
            valid_until: now + Duration::days(365),
            status_list: "133100".into(),
            status_index: 5,
        }
    }

    fn setup() -> (Value, Vec<Issuer>, OffsetDateTime) {
        let now = OffsetDateTime::now_utc();
        let signer = key(7);
        let doc = sign(&unsigned_credential(&evaluation(now)), &signer, &verification_method("133100"), now);
        (doc, vec![Issuer::new("133100", "雄安新区", &signer.verifying_key())], now)
    }

    #[test]
    fn a_signed_credential_verifies() {
        let (doc, issuers, now) = setup();
        let verified = verify(&doc, &issuers, &[], now).unwrap();
        assert_eq!(verified.level, "高级工程师");
        assert_eq!(verified.issuer_region, "133100");
        assert!(!verified.status_checked);
    }

    #[test]
    fn a_changed_field_breaks_the_signature() {
        let (mut doc, issuers, now) = setup();
        doc["credentialSubject"]["level"] = json!("正高级工程师");
        assert_eq!(verify(&doc, &issuers, &[], now).unwrap_err().code(), "bad_signature");
    }

    #[test]
    fn another_key_under_the_same_name_is_refused() {
        let (doc, _, now) = setup();
        let impostor = vec![Issuer::new("133100", "雄安新区", &key(8).verifying_key())];
        assert_eq!(verify(&doc, &impostor, &[], now).unwrap_err().code(), "bad_signature");
    }

    #[test]
    fn an_unknown_issuer_is_named() {
        let (doc, _, now) = setup();
        let others = vec![Issuer::new("110000", "北京市", &key(7).verifying_key())];
        assert_eq!(verify(&doc, &others, &[], now).unwrap_err().code(), "unknown_issuer");
    }

    #[test]
    fn validity_period_is_enforced() {
        let (doc, issuers, now) = setup();
        assert_eq!(verify(&doc, &issuers, &[], now + Duration::days(400)).unwrap_err().code(), "expired");
        assert_eq!(verify(&doc, &issuers, &[], now - Duration::days(2)).unwrap_err().code(), "not_yet_valid");
    }

    #[test]
    fn revocation_comes_from_a_signed_status_list() {
        let (doc, issuers, now) = setup();
        let signer = key(7);
        let vm = verification_method("133100");
        let clean = sign(&unsigned_status_list("133100", "133100", &[4, 6], now), &signer, &vm, now);
        assert!(verify(&doc, &issuers, &[clean], now).unwrap().status_checked);
        let revoked = sign(&unsigned_status_list("133100", "133100", &[5], now), &signer, &vm, now);
        assert_eq!(verify(&doc, &issuers, std::slice::from_ref(&revoked), now).unwrap_err().code(), "revoked");
        let mut forged = revoked;
        forged["credentialSubject"]["encodedList"] = json!(encode_status_list(&[]));
        assert_eq!(verify(&doc, &issuers, &[forged], now).unwrap_err().code(), "status_unverifiable");
    }

    #[test]
    fn garbage_is_malformed() {
        let (_, issuers, now) = setup();
        assert_eq!(verify(&json!({"a": 1}), &issuers, &[], now).unwrap_err().code(), "malformed");
    }

    #[test]
    fn status_bits_round_trip() {
        let encoded = encode_status_list(&[0, 9, 131_071]);
        for (index, set) in [(0, true), (1, false), (9, true), (131_071, true), (131_070, false)] {
            assert_eq!(status_bit(&encoded, index).unwrap(), set, "index {index}");
        }
    }

    #[test]
    fn multikeys_round_trip() {
        let public = key(3).verifying_key();
        let encoded = public_key_multibase(&public);
        assert!(encoded.starts_with("z6Mk"), "{encoded}");
        assert_eq!(decode_public_key(&encoded), Some(public));
    }
}
