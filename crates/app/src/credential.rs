//! Talent evaluation credentials (人才评价互认, issue 18) and mutual recognition (互认).
//!
//! A region's authority — a region operator of that region, or the platform admin — issues a
//! credential to a talent listing. Each region's Ed25519 issuing key is made on first use and
//! stored with its secret sealed by XChaCha20-Poly1305 (the region code as associated data)
//! under the node's credential key: SHA-256 of `XT_CREDENTIAL_KEY`. When the variable is unset
//! the embedded demo's fixed key [`DEMO_CREDENTIAL_KEY`] is used and a warning logged — set the
//! variable (the same on every node of one database) for anything but a demo.
//!
//! The signing and checking are `xietong_domain::credential`'s; this module adds who may issue
//! and revoke, the keys, the signed status lists, and how a verifying region recognises a
//! credential (a rule per verifying region, issuing region and level; a rule of a region counts
//! for the regions inside it, and the issuing region recognises its own levels).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use xietong_domain::credential::{self as vc, Evaluation, Issuer, IssuersFile};
use xietong_domain::{Kind, ListingId, Reference, Role};
use xietong_store::{IssuerKey, NewCredential, NewRecognitionRule, RecognitionRule, StoreError, StoredCredential};

use crate::{Actor, App, AppError, AppResult};

/// The credential key of the embedded demo, used when `XT_CREDENTIAL_KEY` is unset.
pub const DEMO_CREDENTIAL_KEY: &str = "xietong-demo-credential-key";

/// The key sealing issuing keys at rest.
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(…)")
    }
}

impl SealingKey {
    /// From `XT_CREDENTIAL_KEY`, or the demo key (with a warning).
    pub fn from_env() -> SealingKey {
        match std::env::var("XT_CREDENTIAL_KEY") {
            Ok(secret) if !secret.is_empty() => SealingKey::from_secret(&secret),
            _ => {
                tracing::warn!("XT_CREDENTIAL_KEY is not set: issuing keys are sealed with the demo key");
                SealingKey::from_secret(DEMO_CREDENTIAL_KEY)
            }
        }
    }

    /// From a passphrase (its SHA-256).
    pub fn from_secret(secret: &str) -> SealingKey {
        SealingKey(Sha256::digest(secret.as_bytes()).into())
    }

    fn seal(&self, region: &str, secret: &[u8; 32]) -> String {
        use base64::Engine;
        let mut nonce = [0u8; 24];
        getrandom::getrandom(&mut nonce).expect("the operating system's random source failed");
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret, aad: region.as_bytes() })
            .expect("sealing 32 bytes cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    fn open(&self, region: &str, sealed: &str) -> AppResult<[u8; 32]> {
        use base64::Engine;
        let failed = || {
            AppError::Internal(anyhow::anyhow!(
                "cannot open the issuing key of region {region}: is XT_CREDENTIAL_KEY the one it was sealed with?"
            ))
        };
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(|_| failed())?;
        if bytes.len() < 24 {
            return Err(failed());
        }
        let (nonce, body) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let secret = cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: region.as_bytes() })
            .map_err(|_| failed())?;
        secret.try_into().map_err(|_| failed())
    }
}

/// A credential to issue.
#[derive(Debug, Clone, Deserialize)]
pub struct CredentialInput {
    /// The talent listing's id.
    pub talent: String,
    /// 正高级工程师, 高级工程师, a talent-programme tier …
    pub level: String,
    /// The field of the evaluation (专业领域).
    pub field: String,
    /// Days from now the credential is valid.
    pub valid_days: u32,
    /// The issuing region (GB/T 2260 code).
    pub issuer: String,
}

/// The outcome of verifying a credential.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub valid: bool,
    /// `valid`, or the failure's code (`bad_signature`, `unknown_issuer`, `expired`,
    /// `not_yet_valid`, `revoked`, `malformed`, `status_unverifiable`).
    pub reason: String,
    /// A sentence about the failure (empty when valid).
    pub detail: String,
    /// The issuer (id, region, name) when known.
    pub issuer: Option<Issuer>,
    /// How the verifying region(s) recognise the credential.
    pub recognised_as: Vec<RecognisedAs>,
}

/// How one region recognises a credential.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecognisedAs {
    pub region: String,
    pub region_name: String,
    pub level: String,
}

/// A recognition rule to add.
#[derive(Debug, Clone, Deserialize)]
pub struct RecognitionInput {
    pub verifier_region: String,
    pub issuer_region: String,
    pub issuer_level: String,
    pub recognised_level: String,
}

/// A talent's service card (京雄人才服务一卡通).
#[derive(Debug, Clone, Serialize)]
pub struct TalentCard {
    pub talent_id: ListingId,
    pub name: String,
    pub regions: Vec<String>,
    /// The talent's credentials that verify now, each with how regions recognise it.
    pub credentials: Vec<CardCredential>,
    /// Per card region: the services the holder can handle there.
    pub services: Vec<CardServices>,
}

/// One credential on a card.
#[derive(Debug, Clone, Serialize)]
pub struct CardCredential {
    pub id: String,
    pub level: String,
    pub field: String,
    pub issuer_region: String,
    pub issuer_name: String,
    pub valid_until: String,
    pub recognised_as: Vec<RecognisedAs>,
}

/// The services of one region on a card.
#[derive(Debug, Clone, Serialize)]
pub struct CardServices {
    pub region: String,
    pub region_name: String,
    /// How many services can be handled there in all.
    pub total: usize,
    /// The first cross-region services (异地可办), by area.
    pub cross_region: Vec<xietong_store::Service>,
}

/// The regions of the card: Beijing's Fengtai and Xiong'an (the seed's pair).
pub const CARD_REGIONS: [&str; 2] = ["110106", "133100"];

fn region_name(code: &str) -> String {
    Reference::get().region(code).map_or_else(|| code.to_string(), |r| r.name.clone())
}

/// Now, in UTC milliseconds.
pub(crate) fn now_ms() -> i64 {
    ms(OffsetDateTime::now_utc())
}

fn ms(at: OffsetDateTime) -> i64 {
    xietong_domain::booking::to_ms(at)
}

fn from_ms(at: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl App {
    /// The region's issuing key, made and stored on first use.
    fn issuing_key(&self, region: &str) -> AppResult<ed25519_dalek::SigningKey> {
        let stored = match self.talent.issuer_keys()?.into_iter().find(|key| key.region_code == region) {
            Some(key) => key,
            None => {
                let mut secret = [0u8; 32];
                getrandom::getrandom(&mut secret).expect("the operating system's random source failed");
                let signing = vc::signing_key(&secret);
                self.talent.ensure_issuer_key(IssuerKey {
                    region_code: region.to_string(),
                    public_key: vc::public_key_multibase(&signing.verifying_key()),
                    sealed_secret: self.credential_key.seal(region, &secret),
                    created_at: ms(OffsetDateTime::now_utc()),
                })?
            }
        };
        Ok(vc::signing_key(&self.credential_key.open(region, &stored.sealed_secret)?))
    }

    /// The published issuers (`/.well-known/xietong/issuers.json`).
    pub fn issuers(&self) -> AppResult<IssuersFile> {
        let mut issuers = Vec::new();
        for key in self.talent.issuer_keys()? {
            let public = vc::decode_public_key(&key.public_key).ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("corrupt public key of region {}", key.region_code))
            })?;
            issuers.push(Issuer::new(&key.region_code, &region_name(&key.region_code), &public));
        }
        Ok(IssuersFile { issuers })
    }

    /// Issues a talent evaluation credential.
    pub fn issue_credential(&self, actor: &Actor, input: CredentialInput) -> AppResult<StoredCredential> {
        let principal = actor.user()?;
        if !matches!(principal.role, Role::PlatformAdmin | Role::RegionOperator) {
            return Err(AppError::Forbidden("only region operators and the platform admin issue credentials".into()));
        }
        let region = input.issuer.trim().to_string();
        if Reference::get().region(&region).is_none() {
            return Err(AppError::bad_input("issuer", format!("{region:?} is not a GB/T 2260 region code")));
        }
        if !principal.operates_region(&region) {
            return Err(AppError::Forbidden("a region operator issues credentials of their own region".into()));
        }
        let level = input.level.trim().to_string();
        let field = input.field.trim().to_string();
        if level.is_empty() || level.chars().count() > 50 {
            return Err(AppError::bad_input("level", "name the evaluation level (at most 50 characters)"));
        }
        if field.is_empty() || field.chars().count() > 50 {
            return Err(AppError::bad_input("field", "name the field (at most 50 characters)"));
        }
        if !(1..=3650).contains(&input.valid_days) {
            return Err(AppError::bad_input("valid_days", "1 to 3650 days"));
        }
        let talent_id: ListingId =
            input.talent.trim().parse().map_err(|_| AppError::bad_input("talent", "not a listing id"))?;
        let talent = match self.store.get(talent_id) {
            Ok(listing) => listing,
            Err(StoreError::NotFound(_)) => return Err(AppError::bad_input("talent", "no such listing")),
            Err(err) => return Err(err.into()),
        };
        if talent.kind() != Kind::Talent {
            return Err(AppError::bad_input("talent", "the listing is not a talent"));
        }
        let now = OffsetDateTime::now_utc().replace_millisecond(0).unwrap_or_else(|_| OffsetDateTime::now_utc());
        let key = self.issuing_key(&region)?;
        let valid_until = now + time::Duration::days(i64::from(input.valid_days));
        self.store_credential(actor, &key, &region, talent_id, &talent.body.title, &level, &field, now, valid_until)
    }

    /// Signs and stores a credential (also used by the demo, with past validity periods).
    #[expect(clippy::too_many_arguments, reason = "the fields of one credential")]
    pub(crate) fn store_credential(
        &self,
        actor: &Actor,
        key: &ed25519_dalek::SigningKey,
        region: &str,
        talent_id: ListingId,
        talent_name: &str,
        level: &str,
        field: &str,
        valid_from: OffsetDateTime,
        valid_until: OffsetDateTime,
    ) -> AppResult<StoredCredential> {
        let id = format!("urn:uuid:{}", uuid_v7());
        let issuer_name = region_name(region);
        let new = NewCredential {
            id: id.clone(),
            talent_id,
            issuer_region: region.to_string(),
            level: level.to_string(),
            field: field.to_string(),
            valid_from: ms(valid_from),
            valid_until: ms(valid_until),
            issued_by: actor.principal().map_or_else(|| "operator".into(), |p| p.username.clone()),
        };
        let sign = |index: u32| {
            let evaluation = Evaluation {
                id: id.clone(),
                issuer_region: region.to_string(),
                issuer_name: issuer_name.clone(),
                talent_id: talent_id.to_string(),
                talent_name: talent_name.to_string(),
                level: level.to_string(),
                field: field.to_string(),
                valid_from,
                valid_until,
                status_list: region.to_string(),
                status_index: index,
            };
            vc::sign(&vc::unsigned_credential(&evaluation), key, &vc::verification_method(region), valid_from)
        };
        Ok(self.talent.issue_credential(new, &sign, &|stored| {
            let mut entry = actor.audit("credential.issue", stored.id.clone(), Some(stored.issuer_region.clone()));
            entry.detail = serde_json::json!({
                "talent": stored.talent_id.to_string(), "level": stored.level, "field": stored.field,
                "status_index": stored.status_index,
            });
            entry
        })?)
    }

    /// The issuing key of a region for the demo (made on first use).
    pub(crate) fn demo_issuing_key(&self, region: &str) -> AppResult<ed25519_dalek::SigningKey> {
        self.issuing_key(region)
    }

    /// A credential by id (public: a credential is meant to be shown).
    pub fn credential(&self, id: &str) -> AppResult<StoredCredential> {
        self.talent.credential(id)?.ok_or_else(|| AppError::NotFound(format!("no credential {id}")))
    }

    /// A talent's credentials, newest first.
    pub fn credentials_of(&self, talent_id: ListingId) -> AppResult<Vec<StoredCredential>> {
        Ok(self.talent.credentials_of(talent_id)?)
    }

    /// Revokes a credential (an operator of the issuing region, or the admin).
    pub fn revoke_credential(&self, actor: &Actor, id: &str, reason: &str) -> AppResult<StoredCredential> {
        let principal = actor.user()?;
        let credential = self.credential(id)?;
        if !(principal.role == Role::PlatformAdmin
            || (principal.role == Role::RegionOperator && principal.operates_region(&credential.issuer_region)))
        {
            return Err(AppError::Forbidden("only the issuing region's operators revoke its credentials".into()));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(AppError::bad_input("reason", "give a reason (at most 500 characters)"));
        }
        Ok(self.talent.revoke_credential(id, reason, &|stored| {
            let mut entry = actor.audit("credential.revoke", stored.id.clone(), Some(stored.issuer_region.clone()));
            entry.detail = serde_json::json!({"reason": reason, "status_index": stored.status_index});
            entry
        })?)
    }

    /// The signed status list `list` (a region code), as of now.
    pub fn status_list(&self, list: &str) -> AppResult<Value> {
        if !self.talent.issuer_keys()?.iter().any(|key| key.region_code == list) {
            return Err(AppError::NotFound(format!("no status list {list}")));
        }
        let key = self.issuing_key(list)?;
        let now = OffsetDateTime::now_utc();
        let revoked = self.talent.revoked_entries(list)?;
        Ok(vc::sign(&vc::unsigned_status_list(list, list, &revoked, now), &key, &vc::verification_method(list), now))
    }

    /// Verifies a credential against this node's issuers and status lists; `region` (a GB/T
    /// 2260 code) names the verifying region, else every region's recognition is given.
    pub fn verify_credential(&self, credential: &Value, region: Option<&str>) -> AppResult<Verification> {
        let issuers = self.issuers()?.issuers;
        let list = credential.pointer("/credentialStatus/statusListCredential").and_then(Value::as_str);
        let mut lists = Vec::new();
        if let Some(list_region) = list.and_then(|id| id.strip_prefix("urn:xietong:status:"))
            && issuers.iter().any(|issuer| issuer.region_code == list_region)
        {
            lists.push(self.status_list(list_region)?);
        }
        let claimed_issuer = match credential.get("issuer") {
            Some(Value::String(id)) => Some(id.clone()),
            Some(object) => object.get("id").and_then(Value::as_str).map(str::to_string),
            None => None,
        };
        let issuer = claimed_issuer.and_then(|id| issuers.iter().find(|i| i.id == id).cloned());
        match vc::verify(credential, &issuers, &lists, OffsetDateTime::now_utc()) {
            Ok(verified) => Ok(Verification {
                valid: true,
                reason: "valid".into(),
                detail: String::new(),
                recognised_as: self.recognised_as(&verified.issuer_region, &verified.level, region)?,
                issuer,
            }),
            Err(failure) => Ok(Verification {
                valid: false,
                reason: failure.code().into(),
                detail: failure.to_string(),
                issuer,
                recognised_as: Vec::new(),
            }),
        }
    }

    /// How regions recognise a level of an issuing region: the issuing region itself, and every
    /// rule naming them; only `verifier` (and the rules of the regions containing it) when given.
    pub fn recognised_as(
        &self,
        issuer_region: &str,
        level: &str,
        verifier: Option<&str>,
    ) -> AppResult<Vec<RecognisedAs>> {
        let reference = Reference::get();
        let mut out = Vec::new();
        let wanted = |rule_region: &str| match verifier {
            Some(code) => reference.region_within(code, rule_region),
            None => true,
        };
        if wanted(issuer_region) {
            let shown = verifier.unwrap_or(issuer_region);
            out.push(RecognisedAs { region: shown.into(), region_name: region_name(shown), level: level.into() });
        }
        for rule in self.talent.recognition_rules()? {
            if rule.issuer_region == issuer_region && rule.issuer_level == level && wanted(&rule.verifier_region) {
                let shown = verifier.unwrap_or(&rule.verifier_region).to_string();
                if out.iter().any(|r: &RecognisedAs| r.region == shown) {
                    continue;
                }
                out.push(RecognisedAs {
                    region_name: region_name(&shown),
                    region: shown,
                    level: rule.recognised_level,
                });
            }
        }
        Ok(out)
    }

    /// The recognition table.
    pub fn recognition_rules(&self) -> AppResult<Vec<RecognitionRule>> {
        Ok(self.talent.recognition_rules()?)
    }

    /// Adds a recognition rule (an operator of the verifying region, or the admin).
    pub fn add_recognition_rule(&self, actor: &Actor, input: RecognitionInput) -> AppResult<RecognitionRule> {
        let principal = actor.user()?;
        let reference = Reference::get();
        for (field, code) in [("verifier_region", &input.verifier_region), ("issuer_region", &input.issuer_region)] {
            if reference.region(code).is_none() {
                return Err(AppError::bad_input(field, format!("{code:?} is not a GB/T 2260 region code")));
            }
        }
        if !(principal.role == Role::PlatformAdmin
            || (principal.role == Role::RegionOperator && principal.operates_region(&input.verifier_region)))
        {
            return Err(AppError::Forbidden("the verifying region's operators keep its recognition rules".into()));
        }
        for (field, value) in [("issuer_level", &input.issuer_level), ("recognised_level", &input.recognised_level)] {
            if value.trim().is_empty() || value.chars().count() > 50 {
                return Err(AppError::bad_input(field, "name the level (at most 50 characters)"));
            }
        }
        let rule = NewRecognitionRule {
            verifier_region: input.verifier_region,
            issuer_region: input.issuer_region,
            issuer_level: input.issuer_level.trim().into(),
            recognised_level: input.recognised_level.trim().into(),
            created_by: principal.username.clone(),
        };
        Ok(self.talent.add_recognition_rule(rule, &|stored| {
            let mut entry = actor.audit("recognition.add", stored.id.to_string(), Some(stored.verifier_region.clone()));
            entry.detail = serde_json::json!({
                "issuer_region": stored.issuer_region, "issuer_level": stored.issuer_level,
                "recognised_level": stored.recognised_level,
            });
            entry
        })?)
    }

    /// Removes a recognition rule.
    pub fn remove_recognition_rule(&self, actor: &Actor, id: i64) -> AppResult<()> {
        let principal = actor.user()?;
        let rule = self
            .talent
            .recognition_rules()?
            .into_iter()
            .find(|rule| rule.id == id)
            .ok_or_else(|| AppError::NotFound(format!("no recognition rule {id}")))?;
        if !(principal.role == Role::PlatformAdmin
            || (principal.role == Role::RegionOperator && principal.operates_region(&rule.verifier_region)))
        {
            return Err(AppError::Forbidden("the verifying region's operators keep its recognition rules".into()));
        }
        if !self.talent.remove_recognition_rule(id, &|stored| {
            actor.audit("recognition.remove", stored.id.to_string(), Some(stored.verifier_region.clone()))
        })? {
            return Err(AppError::NotFound(format!("no recognition rule {id}")));
        }
        Ok(())
    }

    /// A talent's service card: the credentials that verify now with their recognition, and the
    /// services of each card region.
    pub fn talent_card(&self, actor: &Actor, talent_id: ListingId) -> AppResult<TalentCard> {
        let listing = match self.store.get(talent_id) {
            Ok(listing) if listing.kind() == Kind::Talent && actor.viewer.can_read(&listing.body) => listing,
            Ok(_) | Err(StoreError::NotFound(_)) => return Err(AppError::NotFound(format!("no talent {talent_id}"))),
            Err(err) => return Err(err.into()),
        };
        let mut credentials = Vec::new();
        for stored in self.credentials_of(talent_id)? {
            let verification = self.verify_credential(&stored.document, None)?;
            if !verification.valid {
                continue;
            }
            credentials.push(CardCredential {
                id: stored.id.clone(),
                level: stored.level.clone(),
                field: stored.field.clone(),
                issuer_name: region_name(&stored.issuer_region),
                issuer_region: stored.issuer_region.clone(),
                valid_until: from_ms(stored.valid_until).date().to_string(),
                recognised_as: verification.recognised_as,
            });
        }
        let catalogue = self.talent.services()?;
        let services = CARD_REGIONS
            .iter()
            .map(|region| {
                let here: Vec<_> = catalogue.iter().filter(|s| s.regions.iter().any(|r| r == region)).collect();
                CardServices {
                    region: region.to_string(),
                    region_name: region_name(region),
                    total: here.len(),
                    cross_region: here.iter().filter(|s| s.cross_region).take(20).map(|s| (*s).clone()).collect(),
                }
            })
            .collect();
        Ok(TalentCard {
            talent_id,
            name: listing.body.title.clone(),
            regions: listing.body.region_codes.clone(),
            credentials,
            services,
        })
    }
}

fn uuid_v7() -> String {
    uuid::Uuid::now_v7().to_string()
}
