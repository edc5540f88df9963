//! The local cluster as a developer runs it (`scripts/cluster-local.sh`): real HAProxy and
//! three real `magasin` processes on loopback, reached over HTTPS as clients reach it. Sales
//! through HAProxy land on their store's owner; a killed instance's stores answer 503 with
//! Retry-After while the others keep selling, and chain reports name its stores as
//! missing; after a restart on the same data every acknowledged sale is there, once.
//! Reference data written anywhere is read everywhere; a restock between a store and a
//! product held by different instances conserves stock; the chain's report is the sum of
//! the instances' own.
//!
//! `start`, `start_with` and `https_client` serve the other tests that go through HAProxy
//! (the edge's TLS and limits in `edge.rs`, logins behind it).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use magasin::cluster::{owner, product_key, store_key};
use magasin::domain::Sku;
use magasin::domain::StoreId;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};

const INSTANCES: [&str; 3] = ["magasin-1", "magasin-2", "magasin-3"];

/// The edge's rates lifted: these tests sell as fast as they can from one address, which
/// the shipped limits refuse (they are tested in `edge.rs`).
const UNLIMITED: [(&str, &str); 3] = [
    ("HAPROXY_RATE_LOGINS", "1000000"),
    ("HAPROXY_RATE_WRITES", "1000000"),
    ("HAPROXY_RATE_READS", "1000000"),
];

/// A running `scripts/cluster-local.sh`; stopped when dropped.
pub(crate) struct Cluster {
    script: Child,
    /// HAProxy over HTTPS: `https://127.0.0.1:PORT`.
    pub(crate) base: String,
    pub(crate) port: u16,
    /// The CA of the self-signed certificate the script made (`DATA_DIR/tls/ca.pem`).
    pub(crate) ca: PathBuf,
}

/// A base port with PORT, PORT+1..3, PORT+100 (stats) and PORT+101 (plain HTTP) free.
pub(crate) fn free_ports() -> u16 {
    for _ in 0..50 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        if port > 60_000 {
            continue;
        }
        let all_free = [0, 1, 2, 3, 100, 101]
            .iter()
            .all(|offset| TcpListener::bind(("127.0.0.1", port + offset)).is_ok());
        if all_free {
            return port;
        }
    }
    panic!("no free block of ports");
}

/// An HTTPS client that trusts `ca` alone, sends from `source` (any 127/8 address on
/// Linux: another client as HAProxy sees it) or 127.0.0.1, and follows no redirect.
pub(crate) fn https_client(ca: &Path, source: Option<IpAddr>) -> Client {
    https_client_builder(ca, source)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTPS client")
}

fn https_client_builder(ca: &Path, source: Option<IpAddr>) -> reqwest::blocking::ClientBuilder {
    let pem = std::fs::read(ca).unwrap_or_else(|e| panic!("{}: {e}", ca.display()));
    let ca = reqwest::Certificate::from_pem(&pem).expect("a PEM certificate");
    let builder = Client::builder()
        .tls_certs_only([ca])
        .redirect(reqwest::redirect::Policy::none());
    match source {
        Some(source) => builder.local_address(source),
        None => builder,
    }
}

/// The cluster with the edge's limits as shipped (defaults of haproxy/haproxy.cfg).
pub(crate) fn start(data_dir: &Path, port: u16) -> Cluster {
    start_with(data_dir, port, &[])
}

/// The cluster with `env` added to the script's environment (the edge's rates, say).
pub(crate) fn start_with(data_dir: &Path, port: u16, env: &[(&str, &str)]) -> Cluster {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut script = Command::new(root.join("scripts/cluster-local.sh"));
    script
        .env("MAGASIN_BIN", env!("CARGO_BIN_EXE_magasin"))
        .env("PORT", port.to_string())
        .env("DATA_DIR", data_dir)
        .env("INSTANCES", INSTANCES.len().to_string())
        .env_remove("MAGASIN_JWT_SECRET")
        .env_remove("TLS_CERT")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut script = script
        .spawn()
        .expect("scripts/cluster-local.sh starts (it needs haproxy: scripts/test.sh installs it)");
    let stdout = script.stdout.take().expect("piped stdout");
    let ready = format!("cluster: {} instances behind https://", INSTANCES.len());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with(&ready) {
                let _ = tx.send(());
            }
        }
    });
    // Built now, so that a cluster that never gets ready is still stopped.
    let mut cluster = Cluster {
        script,
        base: format!("https://127.0.0.1:{port}"),
        port,
        ca: data_dir.join("tls/ca.pem"),
    };
    if rx.recv_timeout(Duration::from_secs(90)).is_err() {
        cluster.stop_now();
        panic!("the cluster did not say it was ready within 90 s");
    }
    // HAProxy's health checks see every instance up.
    let c = cluster.client();
    let deadline = Instant::now() + Duration::from_secs(30);
    while (1..=5).any(|id| get(&c, &cluster.base, None, &format!("/api/v1/stores/{id}")).0 == 503) {
        assert!(
            Instant::now() < deadline,
            "HAProxy did not see every instance up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    cluster
}

impl Cluster {
    /// An HTTPS client of HAProxy (and a plain one of the instances) from 127.0.0.1.
    pub(crate) fn client(&self) -> Client {
        https_client(&self.ca, None)
    }

    /// The same, sending from another loopback address: another client to HAProxy.
    pub(crate) fn client_from(&self, source: IpAddr) -> Client {
        https_client(&self.ca, Some(source))
    }

    /// Plain HTTP to HAProxy, which only redirects to HTTPS.
    pub(crate) fn plain_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port + 101)
    }

    pub(crate) fn instance_base(&self, name: &str) -> String {
        let index = INSTANCES
            .iter()
            .position(|n| *n == name)
            .expect("an instance") as u16;
        format!("http://127.0.0.1:{}", self.port + index + 1)
    }

    /// The demo administrator's token, signed in through HAProxy. A cluster just started
    /// may still be seeding the demo chain: the login is tried for 30 s.
    pub(crate) fn admin_token(&self, client: &Client) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let login = client
                .post(format!("{}/api/v1/auth/login", self.base))
                .json(&json!({"username": "admin", "password": "demo"}))
                .send()
                .and_then(|r| r.json::<Value>());
            match login {
                Ok(body) if body["token"].is_string() => {
                    return body["token"].as_str().unwrap_or_default().to_owned();
                }
                other => assert!(
                    Instant::now() < deadline,
                    "no admin login in 30 s: {other:?}"
                ),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// GET through HAProxy as `token`, which must answer 200: its JSON.
    pub(crate) fn get_ok(&self, client: &Client, token: &str, path: &str) -> Value {
        let answer = client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .expect("an answer");
        assert_eq!(answer.status().as_u16(), 200, "{path}");
        answer.json().expect("JSON")
    }

    /// POST `body` through HAProxy as `token`, with an Idempotency-Key when given: the
    /// status, the instance that answered (`X-Magasin-Instance`) and the JSON (or null).
    pub(crate) fn post(
        &self,
        client: &Client,
        token: &str,
        path: &str,
        key: Option<&str>,
        body: &Value,
    ) -> (u16, String, Value) {
        let mut request = client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let answer = request.send().expect("an answer");
        let instance = answer
            .headers()
            .get("X-Magasin-Instance")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            answer.status().as_u16(),
            instance,
            answer.json().unwrap_or(Value::Null),
        )
    }

    /// Stops every process the script started (see `Drop`).
    pub(crate) fn stop(self) {}

    fn stop_now(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.script.id().to_string()])
            .status();
        let _ = self.script.wait();
    }
}

impl Drop for Cluster {
    /// SIGTERM to the script, which stops every process it started; also when a test
    /// fails half-way, so that no instance outlives it.
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// (status, X-Magasin-Instance, Retry-After, body).
fn call(request: RequestBuilder, body: Option<Value>) -> (u16, String, Option<String>, Value) {
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = match request.send() {
        Ok(response) => response,
        Err(e) => return (0, String::new(), None, Value::String(e.to_string())),
    };
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let instance = header("X-Magasin-Instance").unwrap_or_default();
    let retry = header("Retry-After");
    (
        status,
        instance,
        retry,
        response.json().unwrap_or(Value::Null),
    )
}

fn get(
    c: &Client,
    base: &str,
    token: Option<&str>,
    path: &str,
) -> (u16, String, Option<String>, Value) {
    let mut request = c.get(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    call(request, None)
}

fn sell(
    c: &Client,
    base: &str,
    token: &str,
    store: u32,
    sku: &str,
    key: &str,
) -> (u16, String, Option<String>, Value) {
    let request = c
        .post(format!("{base}/api/v1/stores/{store}/sales"))
        .bearer_auth(token)
        .header("Idempotency-Key", key);
    call(
        request,
        Some(json!({"lines": [{"sku": sku, "quantity": 1}]})),
    )
}

fn login(c: &Client, base: &str) -> String {
    let (status, body) = login_as(c, base, "admin", "demo");
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().expect("a token").to_owned()
}

fn login_as(c: &Client, base: &str, username: &str, password: &str) -> (u16, Value) {
    let request = c.post(format!("{base}/api/v1/auth/login"));
    let (status, _, _, body) = call(
        request,
        Some(json!({"username": username, "password": password})),
    );
    (status, body)
}

fn post(
    c: &Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> (u16, String, Option<String>, Value) {
    let request = c.post(format!("{base}{path}")).bearer_auth(token);
    call(request, Some(body))
}

fn names() -> Vec<String> {
    INSTANCES.iter().map(|n| (*n).to_owned()).collect()
}

/// SKUs of a store with stock enough for the test's sales.
fn stocked_skus(c: &Client, base: &str, token: &str, store: u32) -> Vec<String> {
    let (status, _, _, body) = get(
        c,
        base,
        Some(token),
        &format!("/api/v1/stores/{store}/stock?per_page=200"),
    );
    assert_eq!(status, 200, "{body}");
    let skus: Vec<String> = body["items"]
        .as_array()
        .expect("stock lines")
        .iter()
        .filter(|line| line["on_hand"].as_u64().unwrap_or(0) >= 20)
        .filter_map(|line| line["sku"].as_str().map(str::to_owned))
        .collect();
    assert!(
        skus.len() >= 20,
        "store {store} has {} stocked lines",
        skus.len()
    );
    skus
}

fn owner_of(store: u32) -> &'static str {
    let names: Vec<String> = INSTANCES.iter().map(|n| (*n).to_owned()).collect();
    let name = owner(&store_key(StoreId::new(store).expect("valid")), &names).expect("an owner");
    INSTANCES.iter().find(|n| **n == name).expect("one of them")
}

fn sales_counter(c: &Client, base: &str) -> f64 {
    let text = c
        .get(format!("{base}/metrics"))
        .send()
        .and_then(|r| r.text())
        .expect("metrics answer");
    text.lines()
        .find_map(|l| l.strip_prefix("magasin_sales_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn the_local_cluster_routes_by_owner_survives_a_killed_instance_and_recovers() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let port = free_ports();
    let cluster = start_with(temp.path(), port, &UNLIMITED);
    let c = cluster.client();
    let token = login(&c, &cluster.base);
    let skus: HashMap<u32, Vec<String>> = (1..=5_u32)
        .map(|store| (store, stocked_skus(&c, &cluster.base, &token, store)))
        .collect();
    let sku_for = |store: u32, n: usize| skus[&store][n % skus[&store].len()].clone();

    // Sales through HAProxy land on each store's owner, and only there.
    // Key → (store, sale id, SKU sold).
    let mut acknowledged: HashMap<String, (u32, u64, String)> = HashMap::new();
    let mut per_instance: HashMap<&str, f64> = HashMap::new();
    for store in 1..=5_u32 {
        for n in 0..3 {
            let key = format!("route-{store}-{n}");
            let sku = sku_for(store, n);
            let (status, instance, _, body) = sell(&c, &cluster.base, &token, store, &sku, &key);
            assert_eq!(status, 201, "store {store}: {body}");
            assert_eq!(instance, owner_of(store), "store {store}");
            acknowledged.insert(key, (store, body["id"].as_u64().expect("a sale id"), sku));
            *per_instance.entry(owner_of(store)).or_default() += 1.0;
        }
    }
    for name in INSTANCES {
        let counted = sales_counter(&c, &cluster.instance_base(name));
        assert_eq!(
            counted,
            per_instance.get(name).copied().unwrap_or(0.0),
            "{name}'s own metrics"
        );
    }
    // A request sent straight to the wrong instance is refused with the owner's name.
    let victim = owner_of(3);
    let other = INSTANCES
        .iter()
        .find(|n| **n != victim)
        .expect("another instance");
    let (status, _, _, body) = get(
        &c,
        &cluster.instance_base(other),
        Some(&token),
        "/api/v1/stores/3/stock",
    );
    assert_eq!(status, 421, "{body}");
    assert_eq!(body["errors"][0]["owner"], victim);

    // Kill -9 the owner of store 3 while every store is selling.
    let running = Arc::new(AtomicBool::new(true));
    let results = Arc::new(Mutex::new(Vec::new()));
    let sellers: Vec<_> = (1..=5_u32)
        .map(|store| {
            let (c, base, token, running, results, skus) = (
                c.clone(),
                cluster.base.clone(),
                token.clone(),
                running.clone(),
                results.clone(),
                skus[&store].clone(),
            );
            std::thread::spawn(move || {
                let mut n = 0;
                while running.load(Ordering::Relaxed) {
                    let key = format!("load-{store}-{n}");
                    let sku = skus[n % skus.len()].clone();
                    let (status, _, retry, body) = sell(&c, &base, &token, store, &sku, &key);
                    results
                        .lock()
                        .expect("results")
                        .push((store, key, sku, status, retry, body));
                    n += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let pid = std::fs::read_to_string(temp.path().join(format!("{victim}.pid"))).expect("pid file");
    let killed = Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    std::thread::sleep(Duration::from_secs(3));
    running.store(false, Ordering::Relaxed);
    for seller in sellers {
        seller.join().expect("a seller thread");
    }
    let results = std::mem::take(&mut *results.lock().expect("results"));
    let mut refused_with_retry = 0;
    // Sales in flight when the instance died: no answer, so their fate is unknown until
    // they are sent again with their key.
    let mut in_doubt = Vec::new();
    for (store, key, sku, status, retry, body) in results {
        let sale = |body: &Value| (store, body["id"].as_u64().expect("an id"), sku.clone());
        if owner_of(store) == victim {
            match status {
                201 => {
                    acknowledged.insert(key, sale(&body));
                }
                503 => {
                    assert!(retry.is_some(), "503 without Retry-After: {body}");
                    refused_with_retry += 1;
                }
                0 | 502 | 504 => in_doubt.push((store, key, sku)),
                other => panic!("store {store} of the dead instance answered {other}: {body}"),
            }
        } else {
            assert_eq!(status, 201, "store {store} of a live instance: {body}");
            acknowledged.insert(key, sale(&body));
        }
    }
    assert!(
        refused_with_retry > 0,
        "the dead instance's stores were never refused"
    );
    // Chain reports still answer, and name the stores they lack.
    let dead_stores: Vec<u64> = (1..=5_u32)
        .filter(|s| owner_of(*s) == victim)
        .map(u64::from)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let (status, _, _, body) = get(&c, &cluster.base, Some(&token), "/api/v1/reports/sales");
        if status == 200 {
            break body;
        }
        // HAProxy may still send a request for no store to the dead instance once.
        assert!(Instant::now() < deadline, "no report: {status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(report["partial"], true, "{report}");
    let missing: Vec<u64> = report["missing_stores"]
        .as_array()
        .expect("missing stores")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(missing, dead_stores, "{report}");
    assert_eq!(report["missing_instances"], json!([victim]), "{report}");

    // Restart on the same data: every acknowledged sale is there, and only once.
    cluster.stop();
    let cluster = start_with(temp.path(), port, &UNLIMITED);
    let c = cluster.client();
    let token = login(&c, &cluster.base);
    for (store, key, sku) in in_doubt {
        let (status, _, _, body) = sell(&c, &cluster.base, &token, store, &sku, &key);
        assert!(matches!(status, 200 | 201), "{key} sent again: {body}");
        acknowledged.insert(key, (store, body["id"].as_u64().expect("an id"), sku));
    }
    let mut per_store: HashMap<u32, usize> = HashMap::new();
    for (key, (store, id, sku)) in &acknowledged {
        let (status, _, _, body) = get(
            &c,
            &cluster.base,
            Some(&token),
            &format!("/api/v1/stores/{store}/sales/{id}"),
        );
        assert_eq!(status, 200, "sale {id} of store {store} ({key}): {body}");
        // The same key again answers the same sale, recording nothing.
        let (status, _, _, body) = sell(&c, &cluster.base, &token, *store, sku, key);
        assert!(matches!(status, 200 | 201), "{key}: {body}");
        assert_eq!(body["id"].as_u64(), Some(*id), "{key}: {body}");
        *per_store.entry(*store).or_default() += 1;
    }
    for (store, count) in per_store {
        let (_, _, _, body) = get(
            &c,
            &cluster.base,
            Some(&token),
            &format!("/api/v1/stores/{store}/sales?per_page=1"),
        );
        assert_eq!(
            body["total"].as_u64(),
            Some(count as u64),
            "store {store}: {body}"
        );
    }
    cluster.stop();
}

fn on_hand(c: &Client, base: &str, token: &str, store: u32, sku: &str) -> u64 {
    let (status, _, _, body) = get(
        c,
        base,
        Some(token),
        &format!("/api/v1/stores/{store}/stock/{sku}"),
    );
    assert_eq!(status, 200, "{body}");
    body["on_hand"].as_u64().expect("on hand")
}

/// (on hand, in transit) at the logistics center, as the chain reports it.
fn central(c: &Client, base: &str, token: &str, sku: &str) -> (u64, u64) {
    let (status, _, _, body) = get(
        c,
        base,
        Some(token),
        &format!("/api/v1/logistics/stock?q={sku}"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["partial"], false, "{body}");
    let line = body["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["sku"] == sku))
        .unwrap_or_else(|| panic!("{sku} at the logistics center: {body}"));
    (
        line["on_hand"].as_u64().expect("on hand"),
        line["in_transit"].as_u64().expect("in transit"),
    )
}

#[test]
fn the_local_cluster_shares_reference_data_restocks_across_instances_and_adds_up_reports() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let port = free_ports();
    let cluster = start_with(temp.path(), port, &UNLIMITED);
    let c = cluster.client();
    let token = login(&c, &cluster.base);
    let bases: Vec<String> = INSTANCES.iter().map(|n| cluster.instance_base(n)).collect();

    // A user created through HAProxy (any instance) can log in on every instance within a
    // second, and a token from one instance is accepted by the others.
    let (status, _, _, body) = post(
        &c,
        &cluster.base,
        &token,
        "/api/v1/users",
        json!({"username": "grappe.gestion", "password": "mot-de-passe-1", "role": "manager", "store_id": 4}),
    );
    assert_eq!(status, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut tokens = Vec::new();
    for base in &bases {
        let body = loop {
            let (status, body) = login_as(&c, base, "grappe.gestion", "mot-de-passe-1");
            if status == 200 {
                break body;
            }
            assert!(
                Instant::now() < deadline,
                "{base} does not know the new user: {body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        tokens.push(body["token"].as_str().expect("a token").to_owned());
    }
    let (status, instance, _, body) = get(
        &c,
        &cluster.base,
        Some(&tokens[0]),
        "/api/v1/stores/4/stock?per_page=1",
    );
    assert_eq!((status, instance.as_str()), (200, owner_of(4)), "{body}");
    for (base, token) in bases.iter().zip(tokens.iter().rev()) {
        let (status, _, _, body) = get(&c, base, Some(token), "/api/v1/products?q=lait");
        assert_eq!(status, 200, "{base}: {body}");
    }

    // The instances' internal API is not reachable through HAProxy, however spelled.
    for path in [
        "/internal/v1/chain/events?after=0",
        "/%69nternal/v1/chain/events?after=0",
        "//internal/v1/events",
    ] {
        let (status, _, _, body) = get(&c, &cluster.base, Some(&token), path);
        assert_eq!(status, 404, "{path}: {body}");
    }

    // A new store takes requests on its owner as soon as POST /stores answers.
    let (status, _, _, store) = post(
        &c,
        &cluster.base,
        &token,
        "/api/v1/stores",
        json!({"code": "GRAPPE-1", "name": "Magasin de la grappe", "city": "Québec"}),
    );
    assert_eq!(status, 201, "{store}");
    let new_id = store["id"].as_u64().expect("an id") as u32;
    let (status, instance, _, body) = get(
        &c,
        &cluster.base,
        Some(&token),
        &format!("/api/v1/stores/{new_id}/stock?per_page=1"),
    );
    assert_eq!(
        (status, instance.as_str()),
        (200, owner_of(new_id)),
        "{body}"
    );

    // A product added on a follower is decided by the owner of the reference data; a
    // price changed on the other follower: both are in effect on every instance (the
    // answer waits for their copies; the reads allow a loaded machine a few seconds).
    let all = names();
    let chain_owner = owner(magasin::cluster::CHAIN_KEY, &all).expect("an owner");
    // Each instance says whether it writes the reference data: exactly one does.
    for (name, base) in INSTANCES.iter().zip(&bases) {
        let (status, _, _, ready) = get(&c, base, None, "/health/ready");
        let role = if *name == chain_owner {
            "owner"
        } else {
            "follower"
        };
        assert_eq!(
            (status, &ready["reference_data"]),
            (200, &json!(role)),
            "{name}"
        );
    }
    let followers: Vec<(&str, &String)> = INSTANCES
        .iter()
        .zip(&bases)
        .filter(|(name, _)| **name != chain_owner)
        .map(|(name, base)| (*name, base))
        .collect();
    let (status, instance, _, product) = post(
        &c,
        followers[0].1,
        &token,
        "/api/v1/products",
        json!({"sku": "GRP-0001", "ean13": "2000000000015", "name": "Café de la grappe",
               "category": "Épicerie", "price_cents": 899, "tax_class": "zero_rated"}),
    );
    assert_eq!((status, instance.as_str()), (201, chain_owner), "{product}");
    let priced = |base: &str, cents: i64| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (status, _, _, body) = get(&c, base, Some(&token), "/api/v1/products/GRP-0001");
            if status == 200 && body["price_cents"] == cents {
                return;
            }
            assert!(Instant::now() < deadline, "{base}: {status} {body}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    priced(followers[0].1, 899);
    let (status, instance, _, body) = call(
        c.patch(format!("{}/api/v1/products/GRP-0001", followers[1].1))
            .bearer_auth(&token),
        Some(json!({"price_cents": 949})),
    );
    assert_eq!((status, instance.as_str()), (200, chain_owner), "{body}");
    for base in &bases {
        priced(base, 949);
    }
    // A compressed write reaching a follower is forwarded as the bytes it read.
    let gzipped = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let user =
            json!({"username": "grappe.gzip", "password": "mot-de-passe-2", "role": "logistics"});
        encoder
            .write_all(user.to_string().as_bytes())
            .expect("gzip in memory");
        encoder.finish().expect("gzip in memory")
    };
    let answer = c
        .post(format!("{}/api/v1/users", followers[0].1))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gzipped)
        .send()
        .expect("an answer");
    let status = answer.status().as_u16();
    assert_eq!(status, 201, "{}", answer.text().unwrap_or_default());

    // A restock between a store and a product whose central stock another instance holds.
    let (store, sku) = (1..=5_u32)
        .flat_map(|s| {
            stocked_skus(&c, &cluster.base, &token, s)
                .into_iter()
                .map(move |k| (s, k))
        })
        .find(|(s, k)| {
            let names = names();
            let product =
                owner(&product_key(&Sku::parse(k).expect("a SKU")), &names).expect("an owner");
            product != owner_of(*s)
        })
        .expect("a store and a product on different instances");
    let (central_before, _) = central(&c, &cluster.base, &token, &sku);
    let store_before = on_hand(&c, &cluster.base, &token, store, &sku);
    assert!(central_before >= 7, "{sku}: {central_before} at the center");
    let (status, _, _, request) = post(
        &c,
        &cluster.base,
        &token,
        &format!("/api/v1/stores/{store}/restock-requests"),
        json!({"lines": [{"sku": sku, "quantity": 7}]}),
    );
    assert_eq!(status, 201, "{request}");
    let id = request["id"].as_str().expect("a request id").to_owned();
    for step in ["allocate", "ship"] {
        let (status, instance, _, body) = post(
            &c,
            &cluster.base,
            &token,
            &format!("/api/v1/logistics/restock-requests/{id}/{step}"),
            json!({}),
        );
        assert_eq!(
            (status, instance.as_str()),
            (200, owner_of(store)),
            "{step}: {body}"
        );
    }
    assert_eq!(
        central(&c, &cluster.base, &token, &sku),
        (central_before - 7, 7)
    );
    // The same step again moves nothing (every internal write is idempotent).
    let (status, _, _, body) = post(
        &c,
        &cluster.base,
        &token,
        &format!("/api/v1/logistics/restock-requests/{id}/ship"),
        json!({}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _, _, body) = post(
        &c,
        &cluster.base,
        &token,
        &format!("/api/v1/stores/{store}/restock-requests/{id}/receive"),
        json!({}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "received", "{body}");
    let (central_after, in_transit) = central(&c, &cluster.base, &token, &sku);
    let store_after = on_hand(&c, &cluster.base, &token, store, &sku);
    assert_eq!(
        (central_after, in_transit, store_after),
        (central_before - 7, 0, store_before + 7)
    );
    // Its central ledger, on the product's owner, reads the same through any instance.
    let (status, _, _, ledger) = get(
        &c,
        &bases[0],
        Some(&token),
        &format!("/api/v1/logistics/stock/{sku}/ledger"),
    );
    assert_eq!(status, 200, "{ledger}");
    let kinds: Vec<&str> = ledger["items"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["restock_id"] == id.as_str())
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(kinds, ["allocated", "shipped", "delivered"], "{ledger}");

    // A live feed opened on any instance carries the sales of every instance's stores,
    // with ids that say where each instance's feed stands.
    let live = live_sales(&cluster, &token);

    // The chain's report is the sum of every instance's own.
    for store in 1..=5_u32 {
        let skus = stocked_skus(&c, &cluster.base, &token, store);
        for (n, sku) in skus.iter().take(store as usize).enumerate() {
            let (status, _, _, body) = sell(
                &c,
                &cluster.base,
                &token,
                store,
                sku,
                &format!("report-{store}-{n}"),
            );
            assert_eq!(status, 201, "{body}");
        }
    }
    let (status, _, _, chain) = get(&c, &cluster.base, Some(&token), "/api/v1/reports/sales");
    assert_eq!(status, 200, "{chain}");
    assert_eq!(chain["partial"], false, "{chain}");
    assert_eq!(chain["totals"]["sales_count"], 15, "{chain}");
    let mut sum: HashMap<&str, i64> = HashMap::new();
    let mut stores_seen = 0;
    for base in &bases {
        let (status, _, _, own) = get(
            &c,
            base,
            Some(&token),
            "/api/v1/reports/sales?scope=instance",
        );
        assert_eq!(status, 200, "{own}");
        stores_seen += own["stores"].as_array().expect("stores").len();
        for field in [
            "sales_count",
            "units",
            "revenue_cents",
            "refunds_cents",
            "net_revenue_cents",
        ] {
            *sum.entry(field).or_default() += own["totals"][field].as_i64().expect("a figure");
        }
    }
    assert_eq!(
        stores_seen, 7,
        "every store reported by exactly one instance"
    );
    for (field, total) in sum {
        assert_eq!(
            chain["totals"][field].as_i64(),
            Some(total),
            "{field}: {chain}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen: HashMap<u64, usize> = HashMap::new();
    while seen.values().sum::<usize>() < 15 {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("live sales by store after 5 s: {seen:?}"));
        let Ok((id, data)) = live.recv_timeout(left) else {
            panic!("live sales by store: {seen:?}");
        };
        assert_eq!(id.split('.').count(), 3, "event id {id}");
        *seen
            .entry(data["store_id"].as_u64().expect("a store"))
            .or_default() += 1;
    }
    assert_eq!(
        seen,
        (1..=5_u64)
            .map(|s| (s, s as usize))
            .collect::<HashMap<_, _>>()
    );
    let (status, _, _, dashboard) =
        get(&c, &cluster.base, Some(&token), "/api/v1/reports/dashboard");
    assert_eq!(status, 200, "{dashboard}");
    assert_eq!(dashboard["sales_today"], 15, "{dashboard}");
    assert_eq!(
        dashboard["revenue_today_cents"],
        chain["totals"]["revenue_cents"]
    );
    cluster.stop();
}

/// The `sale_recorded` events of a live feed opened through HAProxy: (id, data).
fn live_sales(cluster: &Cluster, token: &str) -> mpsc::Receiver<(String, Value)> {
    // No overall timeout: the feed stays open as long as the test reads it (the server
    // sends a comment every 15 s).
    let response = https_client_builder(&cluster.ca, None)
        .timeout(None)
        .build()
        .expect("an HTTPS client")
        .get(format!("{}/api/v1/events", cluster.base))
        .bearer_auth(token)
        .send()
        .expect("the live feed opens");
    assert_eq!(response.status().as_u16(), 200, "the live feed opens");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut id, mut kind) = (String::new(), String::new());
        for line in BufReader::new(response).lines().map_while(Result::ok) {
            if let Some(v) = line.strip_prefix("id: ") {
                id = v.to_owned();
            } else if let Some(v) = line.strip_prefix("event: ") {
                kind = v.to_owned();
            } else if let Some(v) = line.strip_prefix("data: ")
                && kind == "sale_recorded"
            {
                let data = serde_json::from_str(v).unwrap_or(Value::Null);
                if tx.send((id.clone(), data)).is_err() {
                    return;
                }
            }
        }
    });
    rx
}
