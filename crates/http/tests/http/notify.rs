//! Notifications through the API: webhooks delivered to a receiver inside the test (signed with
//! HMAC-SHA256, retried after a 500, logged), the server-side request forgery guard, the inbox
//! of the other party of a deal, and e-mail to a fake SMTP server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fixture::{Fixture, ORG_A, Who};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use xietong_app::App;
use xietong_app::notify::{NotifySettings, SmtpSettings, SmtpTls};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map_or("", |(_, v)| v.as_str())
    }
}

/// A webhook receiver on 127.0.0.1 that answers the first `fail_first` requests with 500 and
/// the rest with 200, and records every request.
fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(received) = read_request(&mut stream) else { continue };
            let count = {
                let mut seen = record.lock().unwrap();
                seen.push(received);
                seen.len()
            };
            let status = if count <= fail_first { "500 Internal Server Error" } else { "200 OK" };
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received { headers, body })
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn hex_hmac(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Fast polling and back-off, private addresses allowed (the receiver is on 127.0.0.1).
fn fast(smtp: Option<SmtpSettings>) -> NotifySettings {
    NotifySettings {
        allow_private: true,
        poll_interval: Duration::from_millis(50),
        backoff_base: Duration::from_millis(200),
        smtp,
        ..NotifySettings::default()
    }
}

fn org_a_achievement(fx: &Fixture, title: &str) -> String {
    let listing = fx.store_listing(json!({
        "kind": "achievement", "title": title, "summary": "高电流密度膜电极", "trl": 6,
        "region_codes": ["110106"], "owner_org": ORG_A, "visibility": "public", "status": "published",
    }));
    fx.sync();
    listing.id.to_string()
}

async fn propose(fx: &Fixture, who: Who, listing: &str) -> i64 {
    let proposed =
        fx.call(who, "POST", "/api/v1/deals", Some(json!({"listing_id": listing, "message": "想合作"}))).await;
    assert_eq!(proposed.status, 201, "{}", proposed.text);
    proposed.json()["id"].as_i64().unwrap()
}

async fn inbox(fx: &Fixture, who: Who, query: &str) -> Value {
    let reply = fx.get(who, &format!("/api/v1/inbox{query}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

fn events(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["event"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn webhook_deliveries_are_signed_retried_after_a_500_and_logged() {
    let fx = Fixture::with(|app| app.set_notify_settings(fast(None)));
    App::spawn_outbox_worker(&fx.app);
    let (url, seen) = receiver(1);
    let secret = "a-long-webhook-secret";
    let registered = fx
        .call(
            Who::AMember,
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": url, "secret": secret, "events": ["deal.proposed"]})),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    assert!(!registered.text.contains(secret), "the secret is never shown: {}", registered.text);
    let hook = registered.json()["id"].as_i64().unwrap();
    let listed = fx.get(Who::AAdmin, "/api/v1/webhooks").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "the organisation's webhooks: {listed}");

    let listing = org_a_achievement(&fx, "质子交换膜电解槽膜电极");
    let deal = propose(&fx, Who::BMember, &listing).await;
    // A notice OrgA's webhook did not subscribe to is not delivered.
    let accepted = fx
        .call(
            Who::AMember,
            "POST",
            &format!("/api/v1/deals/{deal}/events"),
            Some(json!({"type": "accept", "version": 1})),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);

    wait_for("a retried delivery", || seen.lock().unwrap().len() >= 2);
    std::thread::sleep(Duration::from_millis(500));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one 500, one success, nothing more: {seen:?}");
    for received in &seen {
        let expected = format!("sha256={}", hex_hmac(secret, &received.body));
        assert_eq!(received.header("X-Xietong-Signature"), expected, "signed with the secret over the exact body");
        assert_ne!(
            received.header("X-Xietong-Signature"),
            format!("sha256={}", hex_hmac("another secret", &received.body))
        );
        assert_eq!(received.header("X-Xietong-Event"), "deal.proposed");
        assert!(received.header("Content-Type").starts_with("application/json"));
    }
    assert_eq!(seen[0].body, seen[1].body, "a retry sends the same body");
    assert_eq!(seen[0].header("X-Xietong-Delivery"), seen[1].header("X-Xietong-Delivery"), "and the same delivery id");
    let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body["event"], "deal.proposed");
    assert_eq!(body["data"]["deal"]["id"].as_i64(), Some(deal));
    assert_eq!(body["link"], format!("/deals/{deal}"));
    assert!(body["title"]["zh"].as_str().unwrap().contains("质子交换膜电解槽膜电极"));

    let path = format!("/api/v1/webhooks/{hook}/deliveries");
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = loop {
        let log = fx.get(Who::AMember, &path).await.json();
        if log[0]["state"] == "delivered" {
            break log;
        }
        assert!(Instant::now() < deadline, "the delivery log never showed the success: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!((entries[0]["attempts"].as_i64(), entries[0]["last_status"].as_i64()), (Some(2), Some(200)));
    assert_eq!(entries[0]["id"].to_string(), seen[0].header("X-Xietong-Delivery"));
    assert_eq!(fx.get(Who::BMember, &path).await.status, 404, "another organisation's log");
    assert_eq!(fx.call(Who::BMember, "DELETE", &format!("/api/v1/webhooks/{hook}"), None).await.status, 404);
    assert_eq!(fx.call(Who::AMember, "DELETE", &format!("/api/v1/webhooks/{hook}"), None).await.status, 204);
    assert_eq!(fx.get(Who::AMember, "/api/v1/webhooks").await.json(), json!([]));
}

#[tokio::test]
async fn private_webhook_urls_are_refused_without_allow_private() {
    let fx = Fixture::new();
    for url in [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/",
        "http://[::1]:9000/x",
        "http://localhost:8080/",
        "http://169.254.169.254/latest",
    ] {
        let refused = fx
            .call(
                Who::AMember,
                "POST",
                "/api/v1/webhooks",
                Some(json!({"url": url, "secret": "long-enough", "events": ["*"]})),
            )
            .await;
        assert_eq!(refused.status, 422, "{url}: {}", refused.text);
        assert!(refused.text.contains("private") && refused.text.contains("url"), "{url}: {}", refused.text);
    }
    let unknown = fx
        .call(
            Who::AMember,
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "https://1.1.1.1/h", "secret": "long-enough", "events": ["deal.accept"]})),
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.text);
    assert!(unknown.text.contains("deal.accepted"), "names the events: {}", unknown.text);
    let short = fx
        .call(
            Who::AMember,
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "https://1.1.1.1/h", "secret": "short", "events": ["*"]})),
        )
        .await;
    assert_eq!(short.status, 422, "{}", short.text);
    let public = fx
        .call(
            Who::AMember,
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "https://1.1.1.1/h", "secret": "long-enough", "events": ["*"]})),
        )
        .await;
    assert_eq!(public.status, 201, "{}", public.text);
    assert_eq!(fx.get(Who::AMember, "/api/v1/webhooks").await.json().as_array().unwrap().len(), 1);
    assert_eq!(fx.get(Who::BMember, "/api/v1/webhooks").await.json(), json!([]), "another organisation's");

    // The event list is documented on the route, and every event is in it.
    let doc = serde_json::to_string(&fx.openapi).unwrap();
    for event in xietong_domain::notify::EVENTS {
        assert!(doc.contains(&format!("`{}`", event.name)), "{} is documented", event.name);
    }
}

#[tokio::test]
async fn the_inbox_tells_the_other_party_and_marks_read() {
    let fx = Fixture::new();
    let listing = org_a_achievement(&fx, "固态电池隔膜");
    let deal = propose(&fx, Who::BMember, &listing).await;
    let a_inbox = inbox(&fx, Who::AMember, "").await;
    assert_eq!(events(&a_inbox), ["deal.proposed"], "the owner's members: {a_inbox}");
    assert_eq!(a_inbox["unread_count"], 1);
    assert_eq!(a_inbox["total"], 1);
    assert_eq!(a_inbox["items"][0]["link"], format!("/deals/{deal}"));
    assert!(a_inbox["items"][0]["title_zh"].as_str().unwrap().contains("固态电池隔膜"));
    assert_eq!(events(&inbox(&fx, Who::AAdmin, "").await), ["deal.proposed"]);
    assert!(events(&inbox(&fx, Who::BMember, "").await).is_empty(), "the actor is not told");
    assert!(events(&inbox(&fx, Who::CMember, "").await).is_empty(), "a third organisation is not told");

    let accepted = fx
        .call(
            Who::AMember,
            "POST",
            &format!("/api/v1/deals/{deal}/events"),
            Some(json!({"type": "accept", "version": 1})),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(events(&inbox(&fx, Who::BMember, "").await), ["deal.accepted"], "the asker hears of the acceptance");
    assert_eq!(events(&inbox(&fx, Who::AMember, "").await), ["deal.proposed"], "the acting side is not told");
    let appointed = fx
        .call(
            Who::BMember,
            "POST",
            &format!("/api/v1/deals/{deal}/events"),
            Some(json!({"type": "appoint_broker", "version": 2, "username": "tm"})),
        )
        .await;
    assert_eq!(appointed.status, 200, "{}", appointed.text);
    assert_eq!(events(&inbox(&fx, Who::Tm, "").await), ["deal.broker_appointed"], "the deal's broker");

    // A decline carries its reason to the asker.
    let other = org_a_achievement(&fx, "氢燃料电池双极板");
    let declined_deal = propose(&fx, Who::CMember, &other).await;
    let declined = fx
        .call(
            Who::AAdmin,
            "POST",
            &format!("/api/v1/deals/{declined_deal}/events"),
            Some(json!({"type": "decline", "version": 1, "reason": "trl_too_low", "note": "需要 TRL 7"})),
        )
        .await;
    assert_eq!(declined.status, 200, "{}", declined.text);
    let c_inbox = inbox(&fx, Who::CMember, "").await;
    assert_eq!(events(&c_inbox), ["deal.declined"]);
    assert!(c_inbox["items"][0]["body_en"].as_str().unwrap().contains("TRL too low"), "{c_inbox}");
    assert!(c_inbox["items"][0]["body_zh"].as_str().unwrap().contains("需要 TRL 7"), "{c_inbox}");

    // Review decisions go to the publisher's organisation, with the reason.
    let pending = fx.store_listing(json!({
        "kind": "demand", "title": "待审核需求", "summary": "等待审核", "region_codes": ["110106"],
        "owner_org": ORG_A, "status": "pending",
    }));
    let rejected = fx
        .call(
            Who::RegionOp,
            "POST",
            &format!("/api/v1/listings/{}/review", pending.id),
            Some(json!({"approve": false, "reason": "缺少联系方式"})),
        )
        .await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    let a_inbox = inbox(&fx, Who::AMember, "?unread=true").await;
    // OrgA heard of both proposals and of the broker OrgB appointed, not of its own decline.
    assert_eq!(
        events(&a_inbox),
        ["listing.rejected", "deal.proposed", "deal.broker_appointed", "deal.proposed"],
        "newest first: {a_inbox}"
    );
    assert!(a_inbox["items"][0]["body_zh"].as_str().unwrap().contains("缺少联系方式"));

    // Mark one read, then all; unread counts follow; paging.
    let first = a_inbox["items"][3]["id"].as_i64().unwrap();
    let marked = fx.call(Who::AMember, "POST", &format!("/api/v1/inbox/{first}/read"), None).await;
    assert_eq!(marked.status, 200, "{}", marked.text);
    assert_eq!(marked.json()["unread_count"], 3);
    assert_eq!(
        fx.call(Who::BMember, "POST", &format!("/api/v1/inbox/{first}/read"), None).await.status,
        404,
        "another user's notice"
    );
    let unread = inbox(&fx, Who::AMember, "?unread=true").await;
    assert_eq!((unread["total"].as_u64(), unread["unread_count"].as_u64()), (Some(3), Some(3)));
    let page = inbox(&fx, Who::AMember, "?limit=1&offset=2").await;
    assert_eq!((events(&page), page["total"].as_u64()), (vec!["deal.broker_appointed".to_string()], Some(4)));
    assert_eq!(fx.get(Who::AMember, "/api/v1/inbox?limit=0").await.status, 400);

    let html = fx.get(Who::AMember, "/inbox").await;
    assert_eq!(html.status, 200);
    assert!(html.text.contains(r#"id="unread-badge""#) && html.text.contains("缺少联系方式"), "{}", html.text);
    let english = fx.get(Who::AMember, "/inbox?lang=en").await;
    assert!(english.text.contains("Listing rejected") && english.text.contains("Mark all read"));

    let all = fx.call(Who::AMember, "POST", "/api/v1/inbox/read-all", None).await;
    assert_eq!(all.json()["unread_count"], 0);
    let after = inbox(&fx, Who::AMember, "").await;
    assert_eq!((after["total"].as_u64(), after["unread_count"].as_u64()), (Some(4), Some(0)));
    assert!(after["items"].as_array().unwrap().iter().all(|i| !i["read_at"].is_null()));
    let html = fx.get(Who::AMember, "/inbox").await;
    assert!(!html.text.contains(r#"id="unread-badge""#), "no badge once everything is read");
    let empty = fx.get(Who::Talent, "/inbox").await;
    assert!(empty.text.contains(r#"id="inbox-empty""#), "{}", empty.text);
}

/// What the fake SMTP server received: the envelope recipients and the message.
#[derive(Debug, Default, Clone)]
struct Mail {
    recipients: Vec<String>,
    data: String,
}

/// A fake SMTP server on 127.0.0.1 speaking just enough SMTP for one client at a time.
fn smtp_server() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let record = mails.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let _ = stream.write_all(b"220 fake.test ESMTP\r\n");
            let mut mail = Mail::default();
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let command = line.trim_end().to_ascii_uppercase();
                let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
                    b"250 fake.test\r\n"
                } else if command.starts_with("MAIL FROM") {
                    b"250 OK\r\n"
                } else if command.starts_with("RCPT TO") {
                    mail.recipients.push(line.trim_end()[8..].trim().to_string());
                    b"250 OK\r\n"
                } else if command == "DATA" {
                    let _ = stream.write_all(b"354 go ahead\r\n");
                    let mut data = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim_end() == "." {
                            break;
                        }
                        data.push_str(&line);
                    }
                    mail.data = data;
                    record.lock().unwrap().push(std::mem::take(&mut mail));
                    b"250 queued\r\n"
                } else if command == "QUIT" {
                    let _ = stream.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 OK\r\n"
                };
                let _ = stream.write_all(reply);
            }
        }
    });
    (port, mails)
}

/// The text of a single-part message, decoded from base64 or quoted-printable.
fn message_text(data: &str) -> String {
    let (head, body) = data.split_once("\r\n\r\n").unwrap_or((data, ""));
    let head = head.to_ascii_lowercase();
    if head.contains("content-transfer-encoding: base64") {
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut count = 0;
        let mut bytes = Vec::new();
        for c in body.chars().filter(|c| alphabet.contains(*c)) {
            bits = (bits << 6) | alphabet.find(c).unwrap() as u32;
            count += 6;
            if count >= 8 {
                count -= 8;
                bytes.push((bits >> count) as u8);
                bits &= (1 << count) - 1;
            }
        }
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    if head.contains("content-transfer-encoding: quoted-printable") {
        let joined = body.replace("=\r\n", "");
        let mut bytes = Vec::new();
        let raw = joined.as_bytes();
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'='
                && i + 2 < raw.len()
                && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
            {
                bytes.push(byte);
                i += 3;
                continue;
            }
            bytes.push(raw[i]);
            i += 1;
        }
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    body.to_string()
}

#[tokio::test]
async fn notices_are_emailed_when_smtp_is_configured() {
    let (port, mails) = smtp_server();
    let smtp = SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        from: "协同平台 <noreply@xietong.test>".into(),
        username: None,
        password: None,
        tls: SmtpTls::None,
    };
    let fx = Fixture::with(|app| app.set_notify_settings(fast(Some(smtp))));
    App::spawn_outbox_worker(&fx.app);
    let bad = fx.call(Who::AMember, "PUT", "/api/v1/me/email", Some(json!({"email": "not an address"}))).await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    let set = fx.call(Who::AMember, "PUT", "/api/v1/me/email", Some(json!({"email": "a.member@example.com"}))).await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.json()["email"], "a.member@example.com");

    let listing = org_a_achievement(&fx, "钙钛矿光伏组件");
    let deal = propose(&fx, Who::BMember, &listing).await;
    wait_for("the notice e-mail", || !mails.lock().unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(300));
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "only a_member has an address: {mails:?}");
    assert_eq!(mails[0].recipients, vec!["<a.member@example.com>".to_string()]);
    assert!(mails[0].data.contains("Subject:"), "{}", mails[0].data);
    let text = message_text(&mails[0].data);
    assert!(text.contains(&format!("/deals/{deal}")) && text.contains("钙钛矿光伏组件"), "{text}");
}

#[tokio::test]
async fn without_smtp_nothing_is_emailed() {
    let (port, mails) = smtp_server();
    let fx = Fixture::with(|app| app.set_notify_settings(fast(None)));
    App::spawn_outbox_worker(&fx.app);
    let set = fx.call(Who::AMember, "PUT", "/api/v1/me/email", Some(json!({"email": "a.member@example.com"}))).await;
    assert_eq!(set.status, 200, "{}", set.text);
    let listing = org_a_achievement(&fx, "钙钛矿光伏组件");
    propose(&fx, Who::BMember, &listing).await;
    assert_eq!(events(&inbox(&fx, Who::AMember, "").await), ["deal.proposed"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(mails.lock().unwrap().is_empty(), "no SMTP configured (the fake server on {port} is unused)");
}
