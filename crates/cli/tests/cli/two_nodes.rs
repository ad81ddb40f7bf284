//! Two `xietong serve` nodes on one PostgreSQL database, each with its own index: a listing
//! written through A is searchable on B within 2 s; B catches up after being down; a token
//! revoked through A is refused by B. Needs `XT_TEST_DATABASE_URL` (set by ./scripts/test.sh).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TEST_DATABASE_URL: &str = "XT_TEST_DATABASE_URL";

/// A fresh database on the test server, dropped at the end.
struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    fn create() -> TestDatabase {
        let admin_url = std::env::var(TEST_DATABASE_URL).unwrap_or_else(|_| {
            panic!(
                "{TEST_DATABASE_URL} is not set: run ./scripts/test.sh, which starts a PostgreSQL server for the tests"
            )
        });
        let name = format!("xt_nodes_{}", std::process::id());
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).expect("connect to the test server");
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let (base, _) = admin_url.rsplit_once('/').expect("a URL with a database");
        let url = format!("{base}/{name}");
        TestDatabase { admin_url, name, url }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

fn xietong(args: &[&str], database: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_xietong"))
        .args(args)
        .env("XT_PASSWORD", "long-enough-password")
        .env("XT_DATABASE_URL", database)
        .output()
        .expect("failed to run xietong");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// A node: `xietong serve` on the shared database with its own data directory (its index).
struct Node {
    child: Child,
    base: String,
}

impl Node {
    fn start(data: &std::path::Path, database: &str) -> Node {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_xietong"))
            .args(["serve", "--data", data.to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while ureq::get(&format!("{base}/healthz")).call().is_err() {
            assert!(Instant::now() < deadline, "node {base} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Node { child, base }
    }

    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn search_total(&self, q: &str) -> u64 {
        let reply: Value =
            ureq::get(&format!("{}/api/v1/search", self.base)).query("q", q).call().unwrap().into_json().unwrap();
        reply["total"].as_u64().unwrap()
    }

    /// Seconds until a search for `q` on this node finds one listing, at most 10.
    fn seconds_until_found(&self, q: &str) -> f64 {
        let started = Instant::now();
        while self.search_total(q) == 0 {
            assert!(started.elapsed() < Duration::from_secs(10), "{q:?} never became searchable on {}", self.base);
            std::thread::sleep(Duration::from_millis(50));
        }
        started.elapsed().as_secs_f64()
    }

    fn status_with(&self, token: &str, path: &str) -> u16 {
        match ureq::get(&format!("{}{path}", self.base)).set("authorization", &format!("Bearer {token}")).call() {
            Ok(response) => response.status(),
            Err(ureq::Error::Status(status, _)) => status,
            Err(other) => panic!("{other}"),
        }
    }
}

fn create(node: &Node, token: &str, title: &str) {
    let body = json!({"kind": "demand", "title": title, "summary": "两节点测试", "region_codes": ["110106"]});
    let response = ureq::post(&format!("{}/api/v1/listings", node.base))
        .set("authorization", &format!("Bearer {token}"))
        .send_json(body)
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[test]
fn two_nodes_on_one_database_stay_in_step() {
    let _serial = crate::serial();
    let database = TestDatabase::create();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data_a = dir_a.path().to_str().unwrap();
    xietong(
        &["org", "add", "双节点企业", "--kind", "enterprise", "--region", "110106", "--data", data_a],
        &database.url,
    );
    xietong(&["user", "add", "writer", "--role", "member", "--org", "双节点企业", "--data", data_a], &database.url);
    let token = xietong(&["token", "issue", "--data", data_a, "--user", "writer"], &database.url)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();

    let a = Node::start(dir_a.path(), &database.url);
    let b = Node::start(dir_b.path(), &database.url);
    create(&a, &token, "氢燃料电池双极板需求甲");
    let lag = b.seconds_until_found("氢燃料电池双极板需求甲");
    assert!(lag <= 2.0, "a write through A took {lag:.2} s to be searchable on B");
    eprintln!("two_nodes: searchable on B {lag:.2} s after the write through A");

    // B is down while A takes writes; on start it catches up.
    b.stop();
    create(&a, &token, "固态电解质隔膜需求乙");
    let b = Node::start(dir_b.path(), &database.url);
    assert_eq!(b.search_total("固态电解质隔膜需求乙"), 1, "B caught up on start");

    // A token revoked through A (or the command line) is refused by B at once.
    assert_eq!(b.status_with(&token, "/api/v1/me"), 200);
    let tokens: Vec<Value> = ureq::get(&format!("{}/api/v1/tokens", a.base))
        .set("authorization", &format!("Bearer {token}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let id = tokens[0]["id"].as_i64().unwrap();
    let revoked = ureq::delete(&format!("{}/api/v1/tokens/{id}", a.base))
        .set("authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(b.status_with(&token, "/api/v1/me"), 401, "B refuses the token revoked on A");
    a.stop();
    b.stop();
}
