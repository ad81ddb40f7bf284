//! The command line's integration tests, one binary (linking each file as a test binary of its
//! own made a cold test run spend minutes in the linker).

mod accounts_cli;
mod api_kill;
mod bench_cli;
mod deals_kill;
mod import_cli;
mod import_kill;
mod migrate_cli;
mod serve_limits;
mod two_nodes;
mod webhook_restart;

/// The tests of this binary start servers, kill them and count what they stored; each takes the
/// machine's cores, so they run one at a time, as they did when each was a binary of its own.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `xietong ARGS` (with a password in the environment for commands that ask one) and
/// returns its standard output; fails the test when it fails.
fn xietong(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xietong"))
        .args(args)
        .env("XT_PASSWORD", "long-enough-password")
        .output()
        .expect("failed to run xietong");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// A fresh API token of `user` in the data directory `data`.
fn token(data: &str, user: &str) -> String {
    xietong(&["token", "issue", "--data", data, "--user", user]).lines().last().unwrap().trim().to_string()
}
