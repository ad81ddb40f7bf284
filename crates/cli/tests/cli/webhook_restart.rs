//! Webhook deliveries survive a crash: a deal event whose webhook receiver is not listening yet
//! stays in the outbox across kill -9 of `xietong serve`, and the restarted server delivers it,
//! signed, once the receiver listens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{token, xietong};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `xietong serve` and waits until it answers.
fn serve(data: &str, config: &str, port: u16) -> Child {
    let server = Command::new(env!("CARGO_BIN_EXE_xietong"))
        .args(["serve", "--data", data, "--config", config, "--addr", &format!("127.0.0.1:{port}")])
        .env_remove("XT_WEBHOOK_ALLOW_PRIVATE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ureq::get(&format!("http://127.0.0.1:{port}/healthz")).call().is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn call(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let request = ureq::request(method, url).set("authorization", &format!("Bearer {token}"));
    let answer = match body {
        Some(body) => request.send_json(body),
        None => request.call(),
    };
    match answer {
        Ok(response) => (response.status(), response.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(status, response)) => (status, response.into_json().unwrap_or(Value::Null)),
        Err(other) => panic!("{method} {url}: {other}"),
    }
}

#[test]
fn a_pending_delivery_arrives_signed_after_kill_9_and_restart() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").to_str().unwrap().to_string();
    xietong(&["org", "add", "甲成果方", "--kind", "university", "--region", "110106", "--data", &data]);
    xietong(&["org", "add", "乙需求方", "--kind", "enterprise", "--region", "130600", "--data", &data]);
    xietong(&["user", "add", "owner", "--role", "member", "--org", "甲成果方", "--data", &data]);
    xietong(&["user", "add", "asker", "--role", "member", "--org", "乙需求方", "--data", &data]);
    let (owner, asker) = (token(&data, "owner"), token(&data, "asker"));
    let config = dir.path().join("xietong.toml");
    std::fs::write(
        &config,
        "[webhooks]\nallow_private = true\npoll_interval_ms = 100\nbackoff_base_ms = 200\nbackoff_cap_s = 1\nmax_attempts = 1000\n",
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(&data, &config, port);
    // The receiver's port: nothing listens there until after the crash.
    let receiver_port = free_port();
    let secret = "restart-webhook-secret";
    let (status, hook) = call(
        "POST",
        &format!("{base}/api/v1/webhooks"),
        &owner,
        Some(json!({"url": format!("http://127.0.0.1:{receiver_port}/hook"), "secret": secret, "events": ["*"]})),
    );
    assert_eq!(status, 201, "{hook}");
    let hook = hook["id"].as_i64().unwrap();
    let listing = json!({"kind": "achievement", "title": "重启后送达的成果", "summary": "膜电极", "trl": 6, "region_codes": ["110106"]});
    let (status, listing) = call("POST", &format!("{base}/api/v1/listings"), &owner, Some(listing));
    assert_eq!(status, 201, "{listing}");
    let (status, deal) = call(
        "POST",
        &format!("{base}/api/v1/deals"),
        &asker,
        Some(json!({"listing_id": listing["id"], "message": "重启"})),
    );
    assert_eq!(status, 201, "{deal}");
    let deal = deal["id"].as_i64().unwrap();

    // Attempts fail while nobody listens; the delivery stays pending.
    let log_url = format!("{base}/api/v1/webhooks/{hook}/deliveries");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, log) = call("GET", &log_url, &owner, None);
        if log[0]["attempts"].as_i64().unwrap_or(0) >= 1 {
            assert_eq!(log[0]["state"], "pending", "{log}");
            assert!(log[0]["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{log}");
            break;
        }
        assert!(Instant::now() < deadline, "no failed attempt was logged: {log}");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();

    let receiver = TcpListener::bind(("127.0.0.1", receiver_port)).expect("the receiver's port is free");
    let mut server = serve(&data, &config, port);
    receiver.set_nonblocking(false).unwrap();
    let (stream, _) = receiver.accept().expect("a delivery after the restart");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("POST /hook "), "{line}");
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let Some((name, value)) = line.trim_end().split_once(':') else { break };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str()).to_string();
    let mut body = vec![0; header("content-length").parse().unwrap()];
    reader.read_exact(&mut body).unwrap();
    let mut writer = stream;
    writer.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").unwrap();
    drop(writer);

    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(header("x-xietong-signature"), format!("sha256={expected}"));
    assert_eq!(header("x-xietong-event"), "deal.proposed");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((body["event"].as_str(), body["data"]["deal"]["id"].as_i64()), (Some("deal.proposed"), Some(deal)));

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, log) = call("GET", &log_url, &owner, None);
        if log[0]["state"] == "delivered" {
            assert_eq!(log[0]["last_status"], 204, "{log}");
            assert!(log[0]["attempts"].as_i64().unwrap() >= 2, "{log}");
            break;
        }
        assert!(Instant::now() < deadline, "the delivery was not recorded: {log}");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
