//! The command line's integration tests, one binary (linking each file as a test binary of its
//! own made a cold test run spend minutes in the linker).

mod accounts_cli;
mod api_kill;
mod bench_cli;
mod chains_cli;
mod credential_cli;
mod deals_kill;
mod import_cli;
mod import_kill;
mod migrate_cli;
mod serve_limits;
mod two_nodes;
mod webhook_restart;
mod write_load;

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

/// `xietong serve` over the data directory `data` on a free port of 127.0.0.1, killed (SIGKILL)
/// when dropped.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Server {
    /// Starts the server and waits (at most 60 s) until `/healthz` answers.
    fn start(data: &str) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_xietong"))
            .args(["serve", "--data", data, "--addr", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("failed to start xietong serve");
        let server = Server { child, base };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while ureq::get(&format!("{}/healthz", server.base)).call().is_err() {
            assert!(std::time::Instant::now() < deadline, "xietong serve did not start within 60 s");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
