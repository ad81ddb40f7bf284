//! kill -9 of `xietong serve` while two organisations move deals concurrently: after a restart
//! every acknowledged step is stored with exactly one audit entry, and no audit entry records a
//! step that is not stored.

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{token, xietong};
use serde_json::{Value, json};
use xietong_app::{App, DataDir};
use xietong_store::{AuditFilter, DealFilter};

/// (deal id, event name, the deal's version after it) of every acknowledged step.
type Acknowledged = Arc<Mutex<Vec<(i64, String, i64)>>>;

#[test]
fn kill_9_while_deals_move_keeps_every_acknowledged_step_with_one_audit_entry() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    xietong(&["org", "add", "甲成果方", "--kind", "university", "--region", "110106", "--data", &data]);
    xietong(&["org", "add", "乙需求方", "--kind", "enterprise", "--region", "130600", "--data", &data]);
    xietong(&["user", "add", "owner", "--role", "member", "--org", "甲成果方", "--data", &data]);
    xietong(&["user", "add", "asker", "--role", "member", "--org", "乙需求方", "--data", &data]);
    let (owner, asker) = (token(&data, "owner"), token(&data, "asker"));

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
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).build();
    let post = move |agent: &ureq::Agent, token: &str, path: &str, body: Value| -> Option<Value> {
        let sent =
            agent.post(&format!("{base}{path}")).set("authorization", &format!("Bearer {token}")).send_json(body);
        match sent {
            Ok(response) if response.status() < 300 => Some(response.into_json().unwrap()),
            _ => None,
        }
    };
    let listings: Vec<String> = (0..12)
        .map(|n| {
            let body = json!({"kind": "achievement", "title": format!("对接崩溃测试成果 {n}"), "summary": "膜电极", "trl": 6, "region_codes": ["110106"]});
            post(&agent, &owner, "/api/v1/listings", body).expect("listing")["id"].as_str().unwrap().to_string()
        })
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Acknowledged = Arc::default();
    let movers: Vec<_> = (0..4)
        .map(|mover| {
            let (stop, acknowledged, owner, asker) = (stop.clone(), acknowledged.clone(), owner.clone(), asker.clone());
            let mine: Vec<String> = listings.iter().skip(mover).step_by(4).cloned().collect();
            let post = post.clone();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).build();
                let ack = |deal: i64, event: &str, version: i64| {
                    acknowledged.lock().unwrap().push((deal, event.to_string(), version));
                };
                'outer: while !stop.load(Ordering::Relaxed) {
                    for listing in &mine {
                        let Some(deal) = post(&agent, &asker, "/api/v1/deals", json!({"listing_id": listing})) else {
                            continue;
                        };
                        let id = deal["id"].as_i64().unwrap();
                        ack(id, "propose", 1);
                        let steps = [
                            (&owner, json!({"type": "accept", "version": 1})),
                            (&asker, json!({"type": "meeting", "version": 2, "at": "2027-03-01T09:30:00+08:00", "place": "雄安"})),
                            (&owner, json!({"type": "close", "version": 3, "reason": "下一轮"})),
                        ];
                        for (who, step) in steps {
                            let name = step["type"].as_str().unwrap().to_string();
                            let Some(moved) = post(&agent, who, &format!("/api/v1/deals/{id}/events"), step) else {
                                continue 'outer;
                            };
                            ack(id, &name, moved["version"].as_i64().unwrap());
                        }
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 120 {
        assert!(Instant::now() < deadline, "too few steps were acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for mover in movers {
        mover.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let app = App::open(&DataDir::create(dir.path()).unwrap()).unwrap();
    let deals: HashMap<i64, xietong_store::Deal> =
        app.deal_store().deals(&DealFilter::default(), 100_000).unwrap().into_iter().map(|d| (d.id, d)).collect();
    let (entries, _) = app.accounts().audit_entries(&AuditFilter::default(), 1_000_000, 0).unwrap();
    let mut audited: HashMap<(i64, String, i64), usize> = HashMap::new();
    for entry in entries.iter().filter(|e| e.action.starts_with("deal.")) {
        let deal: i64 = entry.target.parse().unwrap();
        let event = entry.action.trim_start_matches("deal.").to_string();
        let version = entry.detail["version"].as_i64().unwrap_or(1);
        *audited.entry((deal, event, version)).or_default() += 1;
    }
    for (deal, event, version) in &acknowledged {
        let stored = deals.get(deal).unwrap_or_else(|| panic!("acknowledged deal {deal} was lost"));
        if event != "propose" {
            let step = &stored.timeline[(*version - 2) as usize];
            assert_eq!(step.event.name(), event, "deal {deal} step {version}");
        }
        assert_eq!(
            audited.get(&(*deal, event.clone(), *version)),
            Some(&1),
            "{event} of deal {deal} (v{version}): one audit entry"
        );
    }
    let mut steps_stored = 0;
    for deal in deals.values() {
        steps_stored += 1 + deal.timeline.len();
        assert_eq!(audited.get(&(deal.id, "propose".into(), 1)), Some(&1), "deal {} was proposed once", deal.id);
        for (index, step) in deal.timeline.iter().enumerate() {
            let key = (deal.id, step.event.name().to_string(), index as i64 + 2);
            assert_eq!(audited.get(&key), Some(&1), "stored step {key:?} has one audit entry");
        }
    }
    assert_eq!(audited.values().sum::<usize>(), steps_stored, "an audit entry records a step that is not stored");
    eprintln!("deals_kill: {} acknowledged, {} stored steps", acknowledged.len(), steps_stored);
}
