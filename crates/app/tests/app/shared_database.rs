//! Two processes on one database (two nodes, or a node and the command line): sessions, tokens
//! and the login throttle are the database's, so every node sees the same.

use xietong_app::account::NewAccount;
use xietong_app::auth::AuthError;
use xietong_app::{AccountService, Actor, AppError, DataDir};

fn two_nodes() -> (tempfile::TempDir, AccountService, AccountService) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::create(dir.path()).unwrap();
    let a = AccountService::open(&data_dir).unwrap();
    let b = AccountService::open(&data_dir).unwrap();
    let account = NewAccount {
        username: "zhang".into(),
        password: "correct horse".into(),
        role: "platform_admin".into(),
        ..NewAccount::default()
    };
    a.create_user(&Actor::operator(), account).unwrap();
    (dir, a, b)
}

#[test]
fn a_session_or_token_made_on_one_node_works_on_the_other_until_revoked() {
    let (_dir, a, b) = two_nodes();
    let session = a.login("zhang", "correct horse", Some("10.0.0.1")).unwrap();
    let (principal, _) = b.session(&session.token).unwrap().expect("the session is valid on the other node");
    assert_eq!(principal.username, "zhang");
    let actor = Actor::new(xietong_domain::Viewer::User(principal), None);
    let issued = a.issue_token(&actor, None, "nightly", None, None).unwrap();
    assert!(b.bearer(&issued.token).unwrap().is_some());
    assert!(a.revoke_token(&actor, issued.stored.id).unwrap());
    assert!(b.bearer(&issued.token).unwrap().is_none(), "revoked on one node, refused on the other");
}

#[test]
fn the_login_throttle_counts_failures_on_every_node() {
    let (_dir, a, b) = two_nodes();
    let limit = a.auth().limits.per_account;
    for attempt in 0..limit {
        let node = if attempt % 2 == 0 { &a } else { &b };
        let failed = node.login("zhang", "wrong", Some(&format!("10.0.1.{attempt}")));
        assert!(matches!(failed, Err(AppError::Auth(AuthError::BadCredentials))), "{failed:?}");
    }
    let refused = b.login("zhang", "correct horse", Some("10.0.2.1"));
    assert!(matches!(refused, Err(AppError::Auth(AuthError::Throttled { .. }))), "{refused:?}");
    let refused = a.login("zhang", "correct horse", Some("10.0.2.2"));
    assert!(matches!(refused, Err(AppError::Auth(AuthError::Throttled { .. }))), "{refused:?}");
}
