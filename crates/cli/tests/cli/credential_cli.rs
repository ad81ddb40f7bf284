//! `xietong credential …` (issue 18): a credential issued on one node verifies with the command
//! on its own, offline, given only the published issuers file; a changed byte, a wrong key, an
//! unknown issuer, an expired and a revoked credential each fail with their own one-line reason
//! and exit 1.

use std::path::Path;

use xietong_app::{Actor, App, DataDir};

/// Runs `xietong credential verify …`: (exit success, stdout).
fn verify(args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xietong"))
        .arg("credential")
        .arg("verify")
        .args(args)
        .output()
        .expect("failed to run xietong");
    (output.status.success(), String::from_utf8(output.stdout).unwrap())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// A talent listing in a fresh data directory.
fn talent_in(dir: &Path) -> String {
    let app = App::open(&DataDir::create(dir).unwrap()).unwrap();
    let body: xietong_domain::ListingBody = serde_json::from_value(serde_json::json!({
        "kind": "talent", "title": "赵工", "summary": "传感器", "region_codes": ["133100"],
    }))
    .unwrap();
    let body = xietong_domain::validate(body, xietong_domain::Reference::get()).unwrap();
    app.create_listing(&Actor::operator(), body).unwrap().listing.id.to_string()
}

#[test]
fn credentials_verify_offline_with_the_issuers_file_and_fail_with_their_reason() {
    let _serial = crate::serial();
    let node_a = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let data = node_a.path().to_str().unwrap();
    let talent = talent_in(node_a.path());
    let issue = |region: &str| {
        crate::xietong(&[
            "credential",
            "issue",
            "--data",
            data,
            "--talent",
            &talent,
            "--level",
            "高级工程师",
            "--field",
            "电子信息",
            "--valid-days",
            "365",
            "--issuer",
            region,
        ])
    };
    let credential_text = issue("133100");
    let credential: serde_json::Value = serde_json::from_str(&credential_text).unwrap();
    assert_eq!(credential["proof"]["cryptosuite"], "eddsa-jcs-2022");
    let issuers_text = crate::xietong(&["credential", "issuers", "--data", data]);
    // The other node has the two files and nothing else.
    let out = elsewhere.path();
    let file = write(out, "credential.json", &credential_text);
    let issuers = write(out, "issuers.json", &issuers_text);
    assert_eq!(verify(&[&file, "--issuers", &issuers]), (true, "valid\n".into()));

    let changed = write(out, "changed.json", &credential_text.replacen("高级工程师", "正高级工程师", 1));
    let (ok, line) = verify(&[&changed, "--issuers", &issuers]);
    assert!(!ok && line.starts_with("invalid: bad signature"), "{line}");

    // Another region's key published under 雄安's name.
    issue("110106");
    let both: serde_json::Value =
        serde_json::from_str(&crate::xietong(&["credential", "issuers", "--data", data])).unwrap();
    let key = |region: &str| {
        both["issuers"].as_array().unwrap().iter().find(|i| i["region_code"] == region).unwrap()["verificationMethod"]
            [0]["publicKeyMultibase"]
            .clone()
    };
    let mut forged = both.clone();
    for issuer in forged["issuers"].as_array_mut().unwrap() {
        if issuer["region_code"] == "133100" {
            issuer["verificationMethod"][0]["publicKeyMultibase"] = key("110106");
        }
    }
    let wrong_key = write(out, "wrong-key.json", &forged.to_string());
    let (ok, line) = verify(&[&file, "--issuers", &wrong_key]);
    assert!(!ok && line.starts_with("invalid: bad signature"), "{line}");

    let nobody = write(out, "nobody.json", r#"{"issuers": []}"#);
    let (ok, line) = verify(&[&file, "--issuers", &nobody]);
    assert!(!ok && line.starts_with("invalid: unknown issuer"), "{line}");
    let (ok, line) = verify(&[&file]);
    assert!(!ok && line.starts_with("invalid: unknown issuer"), "{line}");

    let garbage = write(out, "garbage.json", "{\"id\": 1");
    let (ok, line) = verify(&[&garbage, "--issuers", &issuers]);
    assert!(!ok && line.starts_with("invalid: malformed"), "{line}");

    // Revoked: the status list before and after.
    let before = write(
        out,
        "status-before.json",
        &crate::xietong(&["credential", "status", "--data", data, "--list", "133100"]),
    );
    assert_eq!(verify(&[&file, "--issuers", &issuers, "--status", &before]), (true, "valid\n".into()));
    let id = credential["id"].as_str().unwrap();
    crate::xietong(&["credential", "revoke", "--data", data, "--id", id, "--reason", "复核未通过"]);
    let after =
        write(out, "status-after.json", &crate::xietong(&["credential", "status", "--data", data, "--list", "133100"]));
    let (ok, line) = verify(&[&file, "--issuers", &issuers, "--status", &after]);
    assert!(!ok && line.starts_with("invalid: revoked"), "{line}");
    assert_eq!(line.lines().count(), 1);
}

#[test]
fn an_expired_demo_credential_fails_as_expired() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(&DataDir::create(dir.path()).unwrap()).unwrap();
    app.load_demo(xietong_demo::DEFAULT_SEED).unwrap();
    let filter = xietong_app::types::ListFilter { kind: Some(xietong_domain::Kind::Talent), ..Default::default() };
    let mut expired = None;
    for talent in app.list_listings(&Actor::operator(), filter, 200, 0).unwrap().items {
        for credential in app.credentials_of(talent.id).unwrap() {
            if app.verify_credential(&credential.document, None).unwrap().reason == "expired" {
                expired = Some(credential.document);
            }
        }
    }
    let expired = expired.expect("the demo has expired credentials");
    let issuers = serde_json::to_string(&app.issuers().unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let file = write(out.path(), "expired.json", &expired.to_string());
    let issuers = write(out.path(), "issuers.json", &issuers);
    let (ok, line) = verify(&[&file, "--issuers", &issuers]);
    assert!(!ok && line.starts_with("invalid: expired"), "{line}");
}
