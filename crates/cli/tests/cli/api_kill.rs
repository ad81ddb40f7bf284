//! kill -9 of `xietong serve` during a burst of concurrent listing writes through the API: after
//! a restart every acknowledged write is stored, searchable and has exactly one audit entry, and
//! no audit entry records a write that is not there.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::xietong;
use xietong_app::{App, DataDir};
use xietong_store::AuditFilter;

#[test]
fn kill_9_during_concurrent_api_writes_keeps_each_acknowledged_write_with_one_audit_entry() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    xietong(&["org", "add", "崩溃测试企业", "--kind", "enterprise", "--region", "110106", "--data", &data]);
    xietong(&["user", "add", "writer", "--role", "member", "--org", "崩溃测试企业", "--data", &data]);
    let token =
        xietong(&["token", "issue", "--data", &data, "--user", "writer"]).lines().last().unwrap().trim().to_string();

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_xietong"))
        .args(["serve", "--data", &data, "--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ureq::get(&format!("{base}/healthz")).call().is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let (stop, acknowledged, base, token) = (stop.clone(), acknowledged.clone(), base.clone(), token.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).build();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body = serde_json::json!({
                        "kind": "demand", "title": format!("崩溃测试需求 {writer}-{n}"),
                        "summary": "kill -9 时并发写入", "region_codes": ["110106"],
                    });
                    let sent = agent
                        .post(&format!("{base}/api/v1/listings"))
                        .set("authorization", &format!("Bearer {token}"))
                        .send_json(body);
                    match sent {
                        Ok(response) if response.status() == 201 => {
                            let created: serde_json::Value = response.into_json().unwrap();
                            acknowledged.lock().unwrap().push(created["id"].as_str().unwrap().to_string());
                        }
                        _ => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        })
        .collect();
    // Kill once a burst is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 150 {
        assert!(Instant::now() < deadline, "too few writes were acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    let acknowledged: Vec<String> = acknowledged.lock().unwrap().clone();

    let app = App::open(&DataDir::create(dir.path()).unwrap()).unwrap();
    let (entries, _) = app.accounts().audit_entries(&AuditFilter::default(), 1_000_000, 0).unwrap();
    let mut creates: HashMap<String, usize> = HashMap::new();
    for entry in entries.iter().filter(|e| e.action == "listing.create") {
        *creates.entry(entry.target.clone()).or_default() += 1;
    }
    let stored: HashSet<String> = app
        .store()
        .scan(None, 1_000_000)
        .unwrap()
        .into_iter()
        .filter(|l| l.body.title.starts_with("崩溃测试需求"))
        .map(|l| l.id.to_string())
        .collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged write {id} was lost");
        assert_eq!(creates.get(id), Some(&1), "acknowledged write {id} must have exactly one audit entry");
    }
    for id in &stored {
        assert_eq!(creates.get(id), Some(&1), "stored listing {id} must have exactly one audit entry");
    }
    assert_eq!(creates.len(), stored.len(), "an audit entry records a write that is not stored");
    assert_eq!(app.index().doc_count() as usize, stored.len(), "every stored listing is searchable after restart");
    eprintln!("api_kill: {} acknowledged, {} stored", acknowledged.len(), stored.len());
}
