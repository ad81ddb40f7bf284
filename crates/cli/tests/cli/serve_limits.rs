//! `xietong serve` under a flood of idle connections, in a process whose file descriptors are
//! few (`ulimit -n 256`): the server must keep answering `/healthz` instead of running out of
//! descriptors.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn healthz(address: &str) -> Option<String> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    Some(response)
}

#[test]
fn healthz_answers_under_more_idle_sockets_than_the_server_has_descriptors() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("127.0.0.1:{port}");
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 256 && exec "$0" serve --data "$1" --addr "$2""#)
        .arg(env!("CARGO_BIN_EXE_xietong"))
        .arg(dir.path())
        .arg(&address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("failed to start xietong serve");
    let _serve = Serve(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !healthz(&address).is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
        assert!(Instant::now() < deadline, "xietong serve did not start within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Three times the server's descriptors, all idle.
    let socket_address: std::net::SocketAddr = address.parse().unwrap();
    let idle: Vec<TcpStream> = (0..768)
        .map(|n| {
            TcpStream::connect_timeout(&socket_address, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("idle connection {n} was not accepted: {e}"))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if healthz(&address).is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(Instant::now() < deadline, "healthz stopped answering under {} idle sockets", idle.len());
        std::thread::sleep(Duration::from_millis(100));
    }
}
