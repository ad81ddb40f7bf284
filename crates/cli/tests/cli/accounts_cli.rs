//! `xietong org`, `user` and `token` as reviewers script them, while a server holds the data
//! directory open.

use std::process::{Command, Output};

use xietong_app::{App, DataDir};
use xietong_domain::Scope;

fn xietong(args: &[&str], password: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xietong"));
    command.args(args);
    if let Some(password) = password {
        command.env("XT_PASSWORD", password);
    }
    command.output().expect("failed to run xietong")
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn token_issue_prints_a_working_token_last_while_the_app_is_open() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    // Like a running server: the app (and its index writer lock) stays open throughout.
    let app = App::open(&DataDir::create(dir.path()).unwrap()).unwrap();
    ok(xietong(&["org", "add", "测试企业", "--kind", "enterprise", "--region", "110106", "--data", data], None));
    ok(xietong(
        &["user", "add", "alice", "--role", "member", "--org", "测试企业", "--data", data],
        Some("long-enough-pw"),
    ));
    let weak = xietong(&["user", "add", "bob", "--role", "member", "--data", data], Some("short"));
    assert!(!weak.status.success(), "a short password is refused");

    let stdout = ok(xietong(&["token", "issue", "--data", data, "--user", "alice"], None));
    let token = stdout.lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("xt_"), "{stdout}");
    let (principal, stored) = app.account().bearer(&token).unwrap().expect("the printed token authenticates");
    assert_eq!(principal.username, "alice");
    assert_eq!(principal.org.as_deref(), Some("测试企业"));
    assert_eq!(stored.scopes, Scope::ALL.to_vec());

    let read_only = ok(xietong(&["token", "issue", "--data", data, "--user", "alice", "--scopes", "read"], None));
    let read_only = read_only.lines().last().unwrap().trim().to_string();
    let (principal, _) = app.account().bearer(&read_only).unwrap().unwrap();
    assert_eq!(principal.scopes, vec![Scope::Read]);

    ok(xietong(&["token", "revoke", &stored.id.to_string(), "--data", data], None));
    assert!(app.account().bearer(&token).unwrap().is_none(), "a revoked token no longer authenticates");
    assert!(app.account().bearer(&read_only).unwrap().is_some(), "other tokens are untouched");

    let missing = xietong(&["token", "issue", "--data", data, "--user", "nobody"], None);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nobody"));
    let actions: Vec<String> =
        app.accounts().audit_entries(&Default::default(), 100, 0).unwrap().0.into_iter().map(|e| e.action).collect();
    for action in ["org.create", "user.create", "token.issue", "token.revoke"] {
        assert!(actions.iter().any(|a| a == action), "{action} missing from {actions:?}");
    }
}
