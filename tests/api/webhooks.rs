//! Webhooks against a real HTTP receiver on loopback, which checks every signature with
//! its own HMAC: the receiver down for 10 s while sales are rung, then back: every event
//! arrives; the server killed (SIGKILL) while it delivers, then restarted on its data:
//! nothing is missing, and an event sent twice carries the same event id and body.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::{assert_problem, error_fields, spawn_app};

/// One delivery as the receiver got it.
#[derive(Debug, Clone)]
struct Delivery {
    event_id: String,
    stream: String,
    seq: u64,
    body: Value,
    signed: bool,
}

/// A receiver on a fixed loopback port that can be taken down and brought back.
struct Receiver {
    port: u16,
    secret: Arc<Mutex<String>>,
    got: Arc<Mutex<Vec<Delivery>>>,
    up: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
    /// How long it takes to answer each delivery.
    pace: Duration,
}

fn read_request(stream: &mut TcpStream) -> Option<(BTreeMap<String, String>, Vec<u8>)> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut headers = BTreeMap::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

/// Checks `t=…,v1=…` with an HMAC of our own.
fn signature_holds(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::decode(v1).is_ok_and(|v1| mac.verify_slice(&v1).is_ok())
}

impl Receiver {
    fn new(pace: Duration) -> Self {
        let port = crate::helpers::free_port();
        let mut receiver = Self {
            port,
            secret: Arc::new(Mutex::new(String::new())),
            got: Arc::new(Mutex::new(Vec::new())),
            up: None,
            pace,
        };
        receiver.start();
        receiver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn start(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("the receiver's port");
        let running = Arc::new(AtomicBool::new(true));
        let (flag, got, secret, pace) = (
            running.clone(),
            self.got.clone(),
            self.secret.clone(),
            self.pace,
        );
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if !flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let Some((headers, body)) = read_request(&mut stream) else {
                    continue;
                };
                std::thread::sleep(pace);
                let secret = secret.lock().map(|s| s.clone()).unwrap_or_default();
                let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
                let delivery = Delivery {
                    event_id: header("x-magasin-event-id"),
                    stream: header("x-magasin-stream"),
                    seq: header("x-magasin-sequence").parse().unwrap_or(0),
                    signed: signature_holds(&secret, &header("x-magasin-signature"), &body),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                };
                if let Ok(mut got) = got.lock() {
                    got.push(delivery);
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        self.up = Some((running, thread));
    }

    /// Down: connections are refused until [`Receiver::start`].
    fn stop(&mut self) {
        if let Some((running, thread)) = self.up.take() {
            running.store(false, Ordering::SeqCst);
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            let _ = thread.join();
        }
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// The distinct sale events received so far, by event id.
    fn sales(&self) -> BTreeMap<String, Delivery> {
        self.deliveries()
            .into_iter()
            .filter(|d| d.body["type"] == "sale_recorded")
            .map(|d| (d.event_id.clone(), d))
            .collect()
    }

    /// Waits (a minute at most) until `count` distinct sales arrived.
    fn wait_for_sales(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.sales().len() < count {
            assert!(
                Instant::now() < deadline,
                "{} of {count} sales delivered: {:?}",
                self.sales().len(),
                self.sales().keys().collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The server binary on `dir`, delivering to private targets, retrying fast.
fn server(dir: &Path) -> crate::process::Binary {
    let mut command = crate::process::command(dir);
    command
        .env("MAGASIN_JWT_SECRET", "w".repeat(40))
        .env("MAGASIN_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true")
        .env("MAGASIN_WEBHOOKS__FIRST_RETRY_MS", "200")
        .env("MAGASIN_WEBHOOKS__MAX_RETRY_MS", "1000")
        .env("MAGASIN_WEBHOOKS__TIMEOUT_MS", "2000");
    crate::process::start(command)
}

fn call(
    base: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = ureq::request(method, &format!("{base}{path}"));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    if method == "POST" && path.ends_with("/sales") {
        request = request.set("Idempotency-Key", &uuid::Uuid::new_v4().to_string());
    }
    let answer = match body {
        Some(body) => request.send_json(body),
        None => request.call(),
    };
    match answer {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

fn login(base: &str, user: &str) -> String {
    let (status, body) = call(
        base,
        None,
        "POST",
        "/api/v1/auth/login",
        Some(json!({"username": user, "password": "demo"})),
    );
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().expect("a token").to_owned()
}

fn sell(base: &str, token: &str) {
    let (status, body) = call(
        base,
        Some(token),
        "POST",
        "/api/v1/stores/1/sales",
        Some(json!({"lines": [{"sku": "EPI-0001", "quantity": 1}]})),
    );
    assert_eq!(status, 201, "{body}");
}

#[test]
fn every_event_reaches_a_receiver_that_was_down_and_a_kill_loses_none() {
    let mut receiver = Receiver::new(Duration::from_millis(40));
    let dir = tempfile::tempdir().expect("temp dir");
    let magasin = server(dir.path());
    let admin = login(&magasin.base, "admin");
    let (status, hook) = call(
        &magasin.base,
        Some(&admin),
        "POST",
        "/api/v1/webhooks",
        Some(json!({"url": receiver.url(), "events": ["sale_recorded", "sale_returned"]})),
    );
    assert_eq!(status, 201, "{hook}");
    let secret = hook["secret"]
        .as_str()
        .expect("the secret, shown once")
        .to_owned();
    *receiver.secret.lock().expect("the secret") = secret;
    let id = hook["id"].as_u64().expect("an id");
    let (_, listed) = call(&magasin.base, Some(&admin), "GET", "/api/v1/webhooks", None);
    assert_eq!(listed["items"][0]["id"], id);
    assert!(
        listed["items"][0].get("secret").is_none(),
        "the secret is shown once"
    );

    // Down for 10 s while the till sells.
    let cashier = login(&magasin.base, "caissier1");
    receiver.stop();
    let down = Instant::now();
    for _ in 0..5 {
        sell(&magasin.base, &cashier);
        std::thread::sleep(Duration::from_secs(2));
    }
    while down.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    receiver.start();
    receiver.wait_for_sales(5);
    let (_, log) = call(
        &magasin.base,
        Some(&admin),
        "GET",
        &format!("/api/v1/webhooks/{id}/deliveries?limit=500"),
        None,
    );
    let outcomes: Vec<&str> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["outcome"].as_str())
        .collect();
    assert!(
        outcomes.contains(&"failed") && outcomes.contains(&"delivered"),
        "{outcomes:?}"
    );

    // Killed while delivering twenty more (the receiver takes 40 ms each).
    for _ in 0..20 {
        sell(&magasin.base, &cashier);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.sales().len() < 8 {
        assert!(Instant::now() < deadline, "deliveries started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut child = magasin.child;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let before_restart = receiver.sales().len();
    let magasin = server(dir.path());
    receiver.wait_for_sales(25);
    println!(
        "webhooks: {before_restart} of 25 sales delivered before the kill, 25 after the restart; {} deliveries in all",
        receiver.deliveries().len()
    );

    let deliveries = receiver.deliveries();
    assert!(deliveries.iter().all(|d| d.signed), "every signature holds");
    let mut bodies: BTreeMap<String, Value> = BTreeMap::new();
    for d in &deliveries {
        assert_eq!(d.event_id, format!("{}:{}", d.stream, d.seq));
        assert_eq!(d.body["id"], d.event_id);
        if let Some(seen) = bodies.insert(d.event_id.clone(), d.body.clone()) {
            assert_eq!(seen, d.body, "a duplicate is the same event");
        }
    }
    // In the store's order: the sequence numbers of its sales, first arrivals, increase.
    let mut firsts = Vec::new();
    for d in &deliveries {
        if d.stream == "store/1" && !firsts.contains(&d.seq) {
            firsts.push(d.seq);
        }
    }
    assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
    let sale_ids: Vec<u64> = receiver
        .sales()
        .values()
        .filter_map(|d| d.body["data"]["sale_id"].as_u64())
        .collect();
    assert_eq!(sale_ids.len(), 25);
    assert!(magasin.terminate());
}

#[test]
fn endpoints_are_checked_and_only_administrators_manage_them() {
    let app = spawn_app();
    let refused = app.post(
        "/api/v1/webhooks",
        &json!({"url": "http://127.0.0.1:9/hook", "events": []}),
    );
    assert_problem(&refused, 400, "validation_failed");
    assert_eq!(error_fields(&refused), ["url", "events"]);
    let private = app.post(
        "/api/v1/webhooks",
        &json!({"url": "https://10.0.0.8/hook", "events": ["*"]}),
    );
    assert_eq!(error_fields(&private), ["url"]);
    let manager = app.login("gestionnaire1");
    let forbidden = app.post_as(
        Some(&manager),
        "/api/v1/webhooks",
        &json!({"url": "https://203.0.114.9/hook", "events": ["*"]}),
    );
    assert_problem(&forbidden, 403, "forbidden");
    let registered = app.post(
        "/api/v1/webhooks",
        &json!({"url": "https://203.0.114.9/hook", "events": ["*"]}),
    );
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    assert_eq!(registered.body["secret"].as_str().map(str::len), Some(64));
    let id = registered.body["id"].as_u64().expect("an id");
    assert_eq!(
        app.send_as(
            "DELETE",
            None,
            &format!("/api/v1/webhooks/{id}"),
            &Value::Null
        )
        .status,
        204
    );
    assert_problem(
        &app.send_as(
            "DELETE",
            None,
            &format!("/api/v1/webhooks/{id}"),
            &Value::Null,
        ),
        404,
        "webhook_not_found",
    );
}
