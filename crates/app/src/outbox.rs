//! The outbox worker: claims due deliveries from the store (under a lease, so several nodes on
//! one database never send one row at the same time), sends them, and records each attempt.
//! Failed attempts are retried with exponential back-off until `max_attempts`, then the row is
//! `failed`. Rows survive restarts; a worker killed mid-send leaves its rows to be claimed again
//! when their lease ends, so a receiver may see a delivery twice (`X-Xietong-Delivery` tells).
//!
//! Webhook calls are POSTs of the stored body with `X-Xietong-Signature: sha256=<hex>` (HMAC-SHA256
//! of the exact body with the webhook's secret), `X-Xietong-Event` and `X-Xietong-Delivery`.
//! The server-side request forgery guard refuses URLs on loopback, private, link-local,
//! unique-local and unspecified addresses at registration ([`check_webhook_url`]) and again after
//! DNS at delivery (the agent's resolver refuses such addresses), unless private addresses are
//! allowed; redirects are not followed.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Weak};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use xietong_store::{OutboxClaim, OutboxJob, OutboxOutcome, OutboxTarget};

use crate::App;
use crate::notify::{NotifySettings, SmtpSettings, SmtpTls};

/// Rows one claim takes at most.
const CLAIM_BATCH: u32 = 16;
/// How long a worker holds a claimed row: longer than any attempt takes.
const LEASE: Duration = Duration::from_secs(120);

/// Why a webhook URL is refused, in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlRefusal {
    pub zh: String,
    pub en: String,
}

fn refusal(zh: impl Into<String>, en: impl Into<String>) -> UrlRefusal {
    UrlRefusal { zh: zh.into(), en: en.into() }
}

/// Whether a webhook may not call `ip`: loopback, private (RFC 1918), shared (RFC 6598),
/// link-local, unique-local, unspecified, broadcast, multicast, reserved, or an IPv6 address
/// embedding such an IPv4 address.
pub fn forbidden_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique-local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                // NAT64 64:ff9b::/96 and IPv4-compatible ::a.b.c.d reach IPv4 addresses.
                || (v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && forbidden_v4(embedded_v4(v6)))
                || (v6.segments()[..6] == [0, 0, 0, 0, 0, 0] && forbidden_v4(embedded_v4(v6)))
        }
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Ipv4Addr {
    let octets = v6.octets();
    Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15])
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

/// Checks a webhook URL at registration: http or https, a host, and (unless `allow_private`)
/// no address of the host (literal or resolved) that [`forbidden_address`] refuses.
pub fn check_webhook_url(url: &str, allow_private: bool) -> Result<(), UrlRefusal> {
    let parsed =
        url::Url::parse(url).map_err(|err| refusal(format!("网址无效：{err}"), format!("not a valid URL: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refusal("网址须以 http:// 或 https:// 开头", "the URL must start with http:// or https://"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refusal("网址不能包含用户名或密码", "the URL must not carry a user name or password"));
    }
    let Some(host) = parsed.host() else {
        return Err(refusal("网址缺少主机名", "the URL names no host"));
    };
    if allow_private {
        return Ok(());
    }
    let private = || {
        refusal(
            format!("出于安全考虑，不能向内网、回环或链路本地地址发送回调（{host}）"),
            format!(
                "webhooks to loopback, private, link-local, unique-local or unspecified addresses are refused ({host}): server-side request forgery guard"
            ),
        )
    };
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addresses: Vec<IpAddr> = match host {
        url::Host::Ipv4(v4) => vec![IpAddr::V4(v4)],
        url::Host::Ipv6(v6) => vec![IpAddr::V6(v6)],
        url::Host::Domain(name) => {
            let lower = name.to_ascii_lowercase();
            if lower == "localhost" || lower.ends_with(".localhost") {
                return Err(private());
            }
            match (name, port).to_socket_addrs() {
                Ok(found) => found.map(|a| a.ip()).collect(),
                Err(err) => {
                    return Err(refusal(
                        format!("无法解析主机名 {name}：{err}"),
                        format!("the host {name} does not resolve: {err}"),
                    ));
                }
            }
        }
    };
    if addresses.is_empty() {
        return Err(refusal("主机名没有地址", "the host has no address"));
    }
    if addresses.into_iter().any(forbidden_address) {
        return Err(private());
    }
    Ok(())
}

/// The signature header value of `body` under `secret`: `sha256=` and the hex HMAC-SHA256.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Resolves webhook hosts, refusing forbidden addresses after DNS (so a name that resolves to
/// an internal address, or changes to one after registration, is not called).
struct GuardedResolver {
    allow_private: bool,
}

impl ureq::Resolver for GuardedResolver {
    fn resolve(&self, netloc: &str) -> io::Result<Vec<SocketAddr>> {
        let addresses: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
        if !self.allow_private
            && let Some(bad) = addresses.iter().find(|a| forbidden_address(a.ip()))
        {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{netloc} resolves to {}, a private address: refused", bad.ip()),
            ));
        }
        Ok(addresses)
    }
}

/// What a worker keeps between polls.
struct Worker {
    /// Names this worker's leases.
    owner: String,
    agent: ureq::Agent,
    settings: Arc<NotifySettings>,
}

impl Worker {
    fn new(settings: Arc<NotifySettings>) -> Worker {
        let mut nonce = [0u8; 6];
        getrandom::getrandom(&mut nonce).unwrap_or_default();
        let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let agent = ureq::AgentBuilder::new()
            .timeout(settings.request_timeout)
            .redirects(0)
            .user_agent(concat!("xietong-webhooks/", env!("CARGO_PKG_VERSION")))
            .resolver(GuardedResolver { allow_private: settings.allow_private })
            .build();
        Worker { owner: format!("{}-{nonce}", std::process::id()), agent, settings }
    }

    /// Sends one claimed row; `Ok(status)` when delivered, else the status (if any) and why not.
    fn send(&self, job: &OutboxJob) -> Result<Option<i64>, (Option<i64>, String)> {
        match &job.target {
            OutboxTarget::Webhook { url, secret, .. } => self.post(job, url, secret).map(Some),
            OutboxTarget::Email { to } => match &self.settings.smtp {
                Some(smtp) => send_email(smtp, to, &job.payload).map(|()| None).map_err(|error| (None, error)),
                None => Err((None, "SMTP is not configured".into())),
            },
        }
    }

    fn post(&self, job: &OutboxJob, url: &str, secret: &str) -> Result<i64, (Option<i64>, String)> {
        let sent = self
            .agent
            .post(url)
            .set("Content-Type", "application/json")
            .set("X-Xietong-Event", &job.event)
            .set("X-Xietong-Delivery", &job.id.to_string())
            .set("X-Xietong-Signature", &signature(secret, job.payload.as_bytes()))
            .send_string(&job.payload);
        match sent {
            Ok(response) if (200..300).contains(&response.status()) => Ok(i64::from(response.status())),
            Ok(response) => {
                let status = response.status();
                Err((Some(i64::from(status)), format!("the receiver answered HTTP {status}")))
            }
            Err(ureq::Error::Status(status, _)) => {
                Err((Some(i64::from(status)), format!("the receiver answered HTTP {status}")))
            }
            Err(ureq::Error::Transport(transport)) => Err((None, transport.to_string())),
        }
    }
}

/// Sends one e-mail of the outbox (`payload`: `{"subject", "body"}`).
fn send_email(smtp: &SmtpSettings, to: &str, payload: &str) -> Result<(), String> {
    use lettre::Transport;
    use lettre::message::header::ContentType;
    let payload: serde_json::Value =
        serde_json::from_str(payload).map_err(|e| format!("corrupt e-mail payload: {e}"))?;
    let subject = payload["subject"].as_str().unwrap_or_default();
    let body = payload["body"].as_str().unwrap_or_default().to_string();
    let message = lettre::Message::builder()
        .from(smtp.from.parse().map_err(|e| format!("invalid sender {:?}: {e}", smtp.from))?)
        .to(to.parse().map_err(|e| format!("invalid recipient {to:?}: {e}"))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("failed to build the e-mail: {e}"))?;
    let builder = match smtp.tls {
        SmtpTls::None => lettre::SmtpTransport::builder_dangerous(&smtp.host),
        SmtpTls::StartTls => lettre::SmtpTransport::starttls_relay(&smtp.host).map_err(|e| e.to_string())?,
        SmtpTls::Tls => lettre::SmtpTransport::relay(&smtp.host).map_err(|e| e.to_string())?,
    };
    let mut builder = builder.port(smtp.port).timeout(Some(Duration::from_secs(20)));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder
            .credentials(lettre::transport::smtp::authentication::Credentials::new(user.clone(), password.clone()));
    }
    builder.build().send(&message).map(|_| ()).map_err(|e| format!("SMTP failed: {e}"))
}

/// When the outbox worker first looks for stale listings to remind their owners of.
const STALE_CHECK_FIRST: std::time::Duration = std::time::Duration::from_secs(60);
/// How often it looks again.
const STALE_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

impl App {
    /// Starts the thread that drains the outbox with the notification settings in force (see
    /// [`App::set_notify_settings`]): every `poll_interval` it claims due rows, sends them and
    /// records the outcomes. The thread ends when the last other handle to the app is dropped.
    pub fn spawn_outbox_worker(app: &Arc<App>) -> std::thread::JoinHandle<()> {
        let weak: Weak<App> = Arc::downgrade(app);
        let worker = Worker::new(app.notify_settings());
        std::thread::Builder::new()
            .name("outbox-worker".into())
            .spawn(move || {
                let mut failing = false;
                // Stale-listing reminders: a minute after start, then every few hours (each
                // listing is reminded once per period whatever the pace).
                let mut reminders_due = std::time::Instant::now() + STALE_CHECK_FIRST;
                loop {
                    std::thread::sleep(worker.settings.poll_interval);
                    let Some(app) = weak.upgrade() else { return };
                    if std::time::Instant::now() >= reminders_due {
                        reminders_due = std::time::Instant::now() + STALE_CHECK_EVERY;
                        match app.send_stale_reminders(OffsetDateTime::now_utc()) {
                            Ok(0) => {}
                            Ok(sent) => tracing::info!(sent, "stale-listing reminders sent"),
                            Err(error) => tracing::warn!(%error, "stale-listing reminders failed; trying again later"),
                        }
                    }
                    match app.deliver_due(&worker) {
                        Ok(_) => failing = false,
                        Err(error) => {
                            if !failing {
                                tracing::error!(error = format!("{error:#}"), "outbox delivery failed; retrying");
                            }
                            failing = true;
                        }
                    }
                }
            })
            .expect("failed to start the outbox worker thread")
    }

    /// Claims the due rows, sends each and records its outcome; returns how many were tried.
    fn deliver_due(&self, worker: &Worker) -> anyhow::Result<usize> {
        let mut tried = 0;
        loop {
            let now = OffsetDateTime::now_utc();
            let claim = OutboxClaim {
                owner: worker.owner.clone(),
                now,
                lease_until: now + LEASE,
                limit: CLAIM_BATCH,
                email: worker.settings.smtp.is_some(),
            };
            let jobs = self.notifications.claim_outbox(&claim)?;
            if jobs.is_empty() {
                return Ok(tried);
            }
            for job in &jobs {
                let outcome = match worker.send(job) {
                    Ok(status) => {
                        tracing::info!(delivery.id = job.id, event = %job.event, status, "delivered");
                        OutboxOutcome::Delivered { status }
                    }
                    Err((status, error)) if job.attempts + 1 >= i64::from(worker.settings.max_attempts) => {
                        tracing::warn!(delivery.id = job.id, event = %job.event, status, %error, "delivery failed for good");
                        OutboxOutcome::Failed { status, error }
                    }
                    Err((status, error)) => {
                        let wait = worker.settings.backoff(job.attempts);
                        tracing::info!(delivery.id = job.id, event = %job.event, status, %error, retry_in_ms = wait.as_millis() as u64, "delivery failed; retrying later");
                        OutboxOutcome::Retry { status, error, at: OffsetDateTime::now_utc() + wait }
                    }
                };
                if !self.notifications.finish_outbox(job.id, &worker.owner, outcome)? {
                    tracing::warn!(
                        delivery.id = job.id,
                        "the lease of a delivery ended before its outcome was recorded"
                    );
                }
                tried += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_forbidden() {
        for text in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "64:ff9b::a00:1",
        ] {
            assert!(forbidden_address(text.parse().unwrap()), "{text}");
        }
        for text in ["1.1.1.1", "8.8.8.8", "172.32.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"] {
            assert!(!forbidden_address(text.parse().unwrap()), "{text}");
        }
    }

    #[test]
    fn registration_refuses_private_and_odd_urls() {
        for url in [
            "http://127.0.0.1/hook",
            "http://10.0.0.1/",
            "http://[::1]:8080/",
            "http://localhost/x",
            "http://0x7f000001/",
        ] {
            assert!(check_webhook_url(url, false).is_err(), "{url}");
            assert!(check_webhook_url(url, true).is_ok(), "{url} with private addresses allowed");
        }
        for url in ["ftp://1.1.1.1/", "not a url", "http://user:pw@1.1.1.1/"] {
            assert!(check_webhook_url(url, true).is_err(), "{url}");
        }
        assert!(check_webhook_url("https://1.1.1.1/hook", false).is_ok());
    }

    #[test]
    fn signatures_are_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = NotifySettings {
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(60),
            ..NotifySettings::default()
        };
        let waits: Vec<u64> = (0..7).map(|n| settings.backoff(n).as_secs()).collect();
        assert_eq!(waits, vec![2, 4, 8, 16, 32, 60, 60]);
    }
}
