//! Hostile and unlucky requests against a real server on a TCP port: nothing a request controls
//! may crash or exhaust it, and index faults show in `/healthz` instead of losing writes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xietong_app::{App, DataDir};
use xietong_domain::{OrgKind, Role, Scope};
use xietong_http::{AppState, ConnectionLimits};
use xietong_search::SearchIndex;
use xietong_search::fault::FailingDirectory;
use xietong_store::{NewOrg, NewUser};

struct Server {
    runtime: tokio::runtime::Runtime,
    base: String,
    app: Arc<App>,
    token: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        Self::start_with(ConnectionLimits::default(), |data_dir| App::open(data_dir).unwrap())
    }

    fn start_with(limits: ConnectionLimits, open: impl FnOnce(&DataDir) -> App) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let app = Arc::new(open(&DataDir::create(dir.path()).unwrap()));
        let org = app
            .accounts()
            .create_org(
                NewOrg { name: "加固测试企业".into(), kind: OrgKind::Enterprise, region_code: "110106".into() },
                &|_| Default::default(),
            )
            .unwrap();
        let user = app
            .accounts()
            .create_user(
                NewUser {
                    username: "hardening".into(),
                    display_name: "加固".into(),
                    role: Role::Member,
                    org_id: Some(org.id),
                    region_code: None,
                    password_hash: "unused".into(),
                },
                &[],
                &|_| Default::default(),
            )
            .unwrap();
        let (_, token) = app
            .account()
            .auth()
            .issue_token(&user, "tests", Scope::ALL.to_vec(), None, &|_| Default::default())
            .unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(app.clone());
        runtime.spawn(async move {
            xietong_http::serve(listener, state, limits, std::future::pending()).await.unwrap();
        });
        Server { runtime, base, app, token, _dir: dir }
    }

    fn agent(&self) -> ureq::Agent {
        ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build()
    }

    /// Sends a request; any status is an answer (not an error).
    fn send(&self, request: ureq::Request, body: Option<&Value>) -> Answer {
        let result = match body {
            Some(body) => request.set("content-type", "application/json").send_string(&body.to_string()),
            None => request.call(),
        };
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(error) => panic!("request failed: {error}"),
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .map(|name| {
                let value = response.header(&name).unwrap_or_default().to_string();
                (name, value)
            })
            .collect();
        Answer { status, headers, body: response.into_string().unwrap() }
    }

    fn get(&self, path: &str) -> (u16, Option<String>, String) {
        let answer = self.send(self.agent().get(&format!("{}{path}", self.base)), None);
        (answer.status, answer.header("content-type").map(str::to_string), answer.body)
    }

    fn method(&self, method: &str, path: &str) -> Answer {
        self.send(self.agent().request(method, &format!("{}{path}", self.base)), None)
    }

    fn post(&self, path: &str, body: &Value, key: Option<&str>) -> Answer {
        let mut request =
            self.agent().post(&format!("{}{path}", self.base)).set("authorization", &format!("Bearer {}", self.token));
        if let Some(key) = key {
            request = request.set("idempotency-key", key);
        }
        self.send(request, Some(body))
    }

    fn healthz(&self) -> (u16, Value) {
        let (status, _, body) = self.get("/healthz");
        (status, serde_json::from_str(&body).unwrap())
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn problem(status: u16, content_type: Option<String>, body: &str) -> Value {
    assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{status}: {body}");
    serde_json::from_str(body).unwrap()
}

#[test]
fn deep_and_overflowing_offsets_are_400_and_the_server_lives() {
    let server = Server::start();
    for path in [
        "/api/v1/search?q=x&offset=1000000000",
        "/api/v1/search?q=x&offset=9223372036854775808",
        "/api/v1/search?q=x&offset=18446744073709551615",
        "/api/v1/listings?offset=9223372036854775808",
        "/api/v1/listings?offset=10001",
        "/api/v1/audit?offset=9223372036854775808",
    ] {
        let (status, content_type, body) = server.get(path);
        if path.starts_with("/api/v1/audit") {
            // Operators only: refused before the parameter is read.
            assert_eq!(status, 401, "{path}: {body}");
            continue;
        }
        assert_eq!(status, 400, "{path}: {body}");
        let problem = problem(status, content_type, &body);
        assert_eq!(problem["errors"][0]["field"], "offset", "{path}: {body}");
        assert!(problem["detail"].as_str().unwrap().contains("10000"), "the limit is named: {body}");
    }
    let (status, _, body) = server.get("/search?q=x&page=100000000");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("10000"), "the page names the limit");
    let (status, _, _) = server.get("/audit?page=18446744073709551615");
    assert!(status < 500);
    // Still alive and answering.
    assert_eq!(server.healthz().0, 200);
    let (status, _, _) = server.get("/api/v1/search?q=x&offset=10000");
    assert_eq!(status, 200, "the deepest allowed page is served");
}

#[test]
fn unparsable_parameters_are_problem_json_naming_the_parameter() {
    let server = Server::start();
    for (path, field) in [
        ("/api/v1/search?q=x&limit=-1", "limit"),
        ("/api/v1/listings?limit=abc", "limit"),
        ("/api/v1/search?offset=-5", "offset"),
        ("/api/v1/search?trl_min=300", "trl_min"),
    ] {
        let (status, content_type, body) = server.get(path);
        assert_eq!(status, 400, "{path}: {body}");
        let problem = problem(status, content_type, &body);
        assert_eq!(problem["errors"][0]["field"], field, "{path}: {body}");
    }
    let long_query = "检".repeat(501);
    let (status, content_type, body) = server.get(&format!("/api/v1/search?q={long_query}"));
    assert_eq!(status, 400);
    assert_eq!(problem(status, content_type, &body)["errors"][0]["field"], "q");
}

#[test]
fn an_unsupported_method_on_an_existing_path_is_405_with_allow() {
    let server = Server::start();
    let answer = server.method("PUT", "/api/v1/auth/logout");
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST"));
    let answer = server.method("DELETE", "/api/v1/search");
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("GET, HEAD"));
    assert_eq!(answer.header("content-type"), Some("application/problem+json"));
}

#[test]
fn a_huge_match_text_is_refused_before_any_work() {
    let server = Server::start();
    // About 900 KB of CJK text: under the body limit, far over the text limit.
    let text = "锂电池极片缺陷的机器视觉检测".repeat(21_500);
    let response = server.post("/api/v1/match", &json!({"text": text}), None);
    assert_eq!(response.status, 400);
    let problem = response.json();
    assert_eq!(problem["errors"][0]["field"], "text");
    assert!(problem["detail"].as_str().unwrap().contains("2000"), "{problem}");
    let keywords: Vec<String> = (0..50).map(|n| format!("关键词{n}")).collect();
    let response = server.post("/api/v1/match", &json!({"text": "机器视觉", "keywords": keywords}), None);
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["errors"][0]["field"], "keywords");
    // A normal request still works.
    let response = server.post("/api/v1/match", &json!({"text": "机器视觉检测"}), None);
    assert_eq!(response.status, 200);
}

#[test]
fn a_retried_post_with_the_same_idempotency_key_stores_one_listing() {
    let server = Server::start();
    let body =
        json!({"kind": "demand", "title": "幂等重试的需求", "summary": "同一个键重试两次", "region_codes": ["110106"]});
    let first = server.post("/api/v1/listings", &body, Some("retry-7f3a"));
    assert_eq!(first.status, 201);
    assert!(first.header("idempotent-replayed").is_none());
    let location = first.header("location").unwrap().to_string();
    let first = first.json();
    assert_eq!(first["searchable"], true);

    let second = server.post("/api/v1/listings", &body, Some("retry-7f3a"));
    assert_eq!(second.status, 201);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.header("location"), Some(location.as_str()));
    let second = second.json();
    assert_eq!(second["id"], first["id"]);

    let stored = server
        .app
        .store()
        .list(&xietong_store::ListFilter::default(), 100, 0)
        .unwrap()
        .items
        .into_iter()
        .filter(|l| l.body.title == "幂等重试的需求")
        .count();
    assert_eq!(stored, 1, "the retry must not create a duplicate");
    let audited = server
        .app
        .accounts()
        .audit_entries(&xietong_store::AuditFilter::default(), 100, 0)
        .unwrap()
        .0
        .into_iter()
        .filter(|e| e.action == "listing.create")
        .count();
    assert_eq!(audited, 1);

    // The same key for another body is refused; a new key is a new listing.
    let other = json!({"kind": "demand", "title": "另一个需求", "summary": "不同的内容", "region_codes": ["110106"]});
    assert_eq!(server.post("/api/v1/listings", &other, Some("retry-7f3a")).status, 422);
    assert_eq!(server.post("/api/v1/listings", &body, Some("retry-8b1c")).status, 201);
    // A failed request releases its key, so the corrected retry runs.
    let invalid = json!({"kind": "demand", "title": "", "summary": "s", "region_codes": ["110106"]});
    assert_eq!(server.post("/api/v1/listings", &invalid, Some("retry-9d2e")).status, 422);
    assert_eq!(server.post("/api/v1/listings", &invalid, Some("retry-9d2e")).status, 422);
}

#[test]
fn a_full_index_disk_answers_201_degrades_healthz_and_heals_without_reindex() {
    let mut switch = None;
    let server = Server::start_with(ConnectionLimits::default(), |data_dir| {
        let directory = FailingDirectory::open(&data_dir.index_path()).unwrap();
        switch = Some(directory.clone());
        App::open_with_index(data_dir, SearchIndex::open_in_directory(directory, &data_dir.index_path()).unwrap())
            .unwrap()
    });
    let disk = switch.unwrap();
    let _follower = App::spawn_follower(&server.app);
    assert_eq!(server.healthz().0, 200);

    disk.fail(true);
    let mut ids = Vec::new();
    for n in 0..5 {
        let body = json!({"kind": "achievement", "title": format!("满盘时发布的成果{n}"), "summary": "索引磁盘已满", "region_codes": ["120116"], "trl": 4});
        let response = server.post("/api/v1/listings", &body, None);
        assert_eq!(response.status, 201, "a stored write is a success");
        assert!(response.header("retry-after").is_some());
        let created = response.json();
        assert_eq!(created["searchable"], false);
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, health) = server.healthz();
        if status == 503 {
            assert_eq!(health["status"], "degraded");
            assert!(health["lag"].as_u64().unwrap() >= 5);
            assert!(health["last_error"].as_str().unwrap().contains("No space left"), "{health}");
            break;
        }
        assert!(Instant::now() < deadline, "healthz never reported degraded: {health}");
        std::thread::sleep(Duration::from_millis(200));
    }

    disk.fail(false);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, health) = server.healthz();
        if status == 200 {
            assert_eq!(health["status"], "ok");
            break;
        }
        assert!(Instant::now() < deadline, "the index did not heal: {health}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, _, body) = server.get("/api/v1/search?q=满盘时发布的成果&limit=20");
    assert_eq!(status, 200);
    let found: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(found["total"], 5, "every stored listing is searchable again: {body}");
    drop(server.runtime);
}

#[test]
fn an_idle_connection_flood_does_not_stop_healthz() {
    let limits = ConnectionLimits {
        max_connections: 200,
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
    };
    let server = Server::start_with(limits, |data_dir| App::open(data_dir).unwrap());
    let address = server.base.trim_start_matches("http://").to_string();
    // Idle sockets, ten times the cap: some send half a request head, most send nothing.
    let mut idle = Vec::new();
    for n in 0..2_000 {
        let mut stream = TcpStream::connect(&address).unwrap();
        if n % 10 == 0 {
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
        }
        idle.push(stream);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let answered = loop {
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        if response.starts_with("HTTP/1.1 200") {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(answered, "healthz stopped answering under {} idle connections", idle.len());
    // The server closes what it cannot keep: most idle sockets are gone within the timeouts.
    std::thread::sleep(Duration::from_secs(7));
    let mut closed = 0;
    for stream in &mut idle {
        stream.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let mut buffer = [0u8; 256];
        // End of stream, a last answer (408/503) before the close, or a reset: closed.
        match stream.read(&mut buffer) {
            Ok(_) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            Err(_) => {}
        }
    }
    assert!(closed >= 1_800, "only {closed} of {} idle connections were closed", idle.len());
}
