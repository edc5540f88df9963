//! Crash test, on both backends (the project's acceptance criterion).
//!
//! The real binary serves from a temp data dir; eight tills sell concurrently, each request
//! with its own idempotency key, and the process is SIGKILLed at a random moment while they
//! do. It restarts on the same data dir and we check: every sale that got a 201 is readable
//! with the same lines; re-sending every request with its key answers 201 and records
//! nothing twice (an acknowledged key replays its sale); the store holds exactly one sale
//! per key; on-hand = initial − everything sold. Five such cycles, then at least five
//! SIGKILLs that land during start-up (after the process has begun opening its data dir,
//! before its ready line: mostly while the journal is replayed), one after the other, and
//! the next start still has everything, to the unit.

use rand::Rng;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const STORE: u32 = 1;
/// SKUs the tills sell (the first ones of the demo catalog), each counted to `INITIAL`.
const SKU_COUNT: usize = 3;
const INITIAL: i64 = 500_000;
const TILLS: usize = 8;
const SERVING_KILLS: usize = 5;
const STARTUP_KILLS: usize = 5;
/// Bound on the start-up kill tries (a try whose kill comes after the ready line is wasted).
const STARTUP_TRIES: usize = 40;
/// Random moment of the kill, counted from the first acknowledged sale of the cycle.
const KILL_AFTER_MS: std::ops::RangeInclusive<u64> = 150..=900;
/// Longest a start may take before the test gives up.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// Bound on a till's selling, should the kill never come.
const SELLING_AT_MOST: Duration = Duration::from_secs(20);
const READY_PREFIX: &str = "magasin listening on ";

/// A running binary. SIGKILLed when dropped, so a failing test leaves nothing behind.
struct Server {
    child: Child,
    base: String,
    ready_after: Duration,
}

impl Server {
    fn sigkill(mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the killed server");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns the binary on `data` with stderr appended to `log`; every stdout line is sent to
/// the receiver by a reader thread, which ends when the process does.
fn spawn(
    data: &Path,
    backend: &str,
    log: &Path,
) -> (Child, mpsc::Receiver<String>, JoinHandle<()>) {
    let log_file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the server log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_magasin"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(["--backend", backend])
        .env_remove("MAGASIN_JWT_SECRET")
        .env_remove("MAGASIN_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("spawn the magasin binary");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx, reader)
}

/// The last lines of a log, for failure messages.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Starts the binary and waits (with a deadline) for its ready line.
fn start(data: &Path, backend: &str, log: &Path, label: &str) -> Server {
    let started = Instant::now();
    let (child, lines, _reader) = spawn(data, backend, log);
    let mut server = Server {
        child,
        base: String::new(),
        ready_after: Duration::ZERO,
    };
    let deadline = started + READY_WITHIN;
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                if let Some(base) = line.strip_prefix(READY_PREFIX) {
                    server.base = base.trim().to_owned();
                    server.ready_after = started.elapsed();
                    return server;
                }
            }
            Err(RecvTimeoutError::Timeout) => panic!(
                "{label}: the server did not print its ready line within {READY_WITHIN:?}; \
                 log tail:\n{}",
                log_tail(log)
            ),
            Err(RecvTimeoutError::Disconnected) => {
                let status = server.child.wait().expect("reap the server");
                panic!(
                    "{label}: the server exited ({status}) before it was ready; log tail:\n{}",
                    log_tail(log)
                )
            }
        }
    }
}

/// What the server answered.
struct Answer {
    status: u16,
    replayed: bool,
    body: Value,
}

/// A blocking HTTP client with the admin's token. One per thread (own connections).
struct Client {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
}

impl Client {
    /// Logs in as the demo admin (tokens do not survive a restart: the demo signing key is
    /// random per process).
    fn login(base: &str) -> Self {
        let agent = agent();
        let response = agent
            .post(&format!("{base}/api/v1/auth/login"))
            .send_json(json!({"username": "admin", "password": "demo"}))
            .unwrap_or_else(|e| panic!("login as admin on {base}: {e}"));
        let body: Value = response.into_json().expect("a JSON login answer");
        let token = body["token"].as_str().expect("a token in the login answer");
        Self {
            agent,
            base: base.to_owned(),
            auth: format!("Bearer {token}"),
        }
    }

    /// Same server and token, its own connections.
    fn fresh(&self) -> Self {
        Self {
            agent: agent(),
            base: self.base.clone(),
            auth: self.auth.clone(),
        }
    }

    fn answer(response: ureq::Response) -> Answer {
        let status = response.status();
        let replayed = response.header("Idempotent-Replayed") == Some("true");
        let text = response.into_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            replayed,
            body,
        }
    }

    /// `Err` on a transport error: no answer (the server died, or never answered).
    fn post(&self, path: &str, key: Option<&str>, body: &Value) -> Result<Answer, String> {
        let mut request = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Authorization", &self.auth);
        if let Some(key) = key {
            request = request.set("Idempotency-Key", key);
        }
        match request.send_json(body) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => Ok(Self::answer(r)),
            Err(e) => Err(e.to_string()),
        }
    }

    fn get(&self, path: &str) -> Answer {
        match self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &self.auth)
            .call()
        {
            Ok(r) | Err(ureq::Error::Status(_, r)) => Self::answer(r),
            Err(e) => panic!("GET {path}: no answer from the restarted server: {e}"),
        }
    }
}

/// One sale a till tried: its key, its lines (SKU index, quantity), and its sale id once
/// known (a 201 while selling, or the answer to a re-send after a restart).
#[derive(Debug, Clone)]
struct Attempt {
    key: String,
    lines: Vec<(usize, i64)>,
    sale: Option<u64>,
}

impl Attempt {
    fn body(&self, skus: &[String]) -> Value {
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|(sku, quantity)| json!({"sku": skus[*sku], "quantity": quantity}))
            .collect();
        json!({ "lines": lines })
    }

    /// (sku, quantity) sorted, as `sale_lines` reads them back.
    fn expected_lines(&self, skus: &[String]) -> Vec<(String, i64)> {
        let mut lines: Vec<(String, i64)> = self
            .lines
            .iter()
            .map(|(sku, quantity)| (skus[*sku].clone(), *quantity))
            .collect();
        lines.sort();
        lines
    }
}

/// (sku, quantity) of a sale as the API shows it, sorted.
fn sale_lines(sale: &Value) -> Vec<(String, i64)> {
    let mut lines: Vec<(String, i64)> = sale["lines"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| {
                    (
                        l["sku"].as_str().unwrap_or("<no sku>").to_owned(),
                        l["quantity"].as_i64().unwrap_or(-1),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    lines.sort();
    lines
}

fn sales_path() -> String {
    format!("/api/v1/stores/{STORE}/sales")
}

/// What one till did in a cycle.
struct TillReport {
    attempts: Vec<Attempt>,
    /// Answers other than a fresh 201 (or a transport error) while the server was alive.
    unexpected: Vec<String>,
}

/// A till: sells one or two random SKUs per sale, keys `c{cycle}-w{till}-{n}`, until a
/// transport error (the kill) or the bound.
fn till(
    client: Client,
    skus: Arc<Vec<String>>,
    cycle: usize,
    worker: usize,
    go: Arc<Barrier>,
    first_ack: mpsc::Sender<()>,
) -> TillReport {
    let mut rng = rand::rng();
    let mut report = TillReport {
        attempts: Vec::new(),
        unexpected: Vec::new(),
    };
    let mut signalled = false;
    go.wait();
    let stop_at = Instant::now() + SELLING_AT_MOST;
    let mut n = 0;
    while Instant::now() < stop_at {
        let first = rng.random_range(0..SKU_COUNT);
        let mut lines = vec![(first, rng.random_range(1..=3))];
        if rng.random_bool(0.5) {
            let second = (first + rng.random_range(1..SKU_COUNT)) % SKU_COUNT;
            lines.push((second, rng.random_range(1..=3)));
        }
        let mut attempt = Attempt {
            key: format!("c{cycle}-w{worker}-{n}"),
            lines,
            sale: None,
        };
        n += 1;
        match client.post(&sales_path(), Some(&attempt.key), &attempt.body(&skus)) {
            Ok(answer) if answer.status == 201 => {
                match answer.body["id"].as_u64() {
                    Some(id) => attempt.sale = Some(id),
                    None => report.unexpected.push(format!(
                        "{}: 201 without an id: {}",
                        attempt.key, answer.body
                    )),
                }
                if answer.replayed {
                    report.unexpected.push(format!(
                        "{}: a fresh key was answered as a replay",
                        attempt.key
                    ));
                }
                if sale_lines(&answer.body) != attempt.expected_lines(&skus) {
                    report.unexpected.push(format!(
                        "{}: the 201 shows other lines: {}",
                        attempt.key, answer.body
                    ));
                }
                if !signalled {
                    let _ = first_ack.send(());
                    signalled = true;
                }
                report.attempts.push(attempt);
            }
            Ok(answer) => {
                report.unexpected.push(format!(
                    "{}: {} {}",
                    attempt.key, answer.status, answer.body
                ));
                report.attempts.push(attempt);
            }
            Err(_) => {
                // No answer: it may or may not have been recorded. The server is gone.
                report.attempts.push(attempt);
                return report;
            }
        }
    }
    report
}

/// What a verification found.
#[derive(Debug, PartialEq)]
struct Totals {
    sales: usize,
    on_hand: Vec<i64>,
}

/// Runs `check` over `attempts` in `TILLS` threads, each with its own client; collects
/// what they return.
fn in_parallel<T: Send>(
    client: &Client,
    attempts: &[Attempt],
    check: impl Fn(&Client, usize, &Attempt) -> T + Sync,
) -> Vec<T> {
    let chunk = attempts.len().div_ceil(TILLS).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = attempts
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let client = client.fresh();
                let check = &check;
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(i, a)| check(&client, c * chunk + i, a))
                        .collect::<Vec<T>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a verification thread panicked"))
            .collect()
    })
}

fn fail_if_any(problems: &[String], label: &str, what: &str) {
    if !problems.is_empty() {
        let shown: Vec<&str> = problems.iter().take(15).map(String::as_str).collect();
        panic!(
            "{label}: {} {what}:\n  {}",
            problems.len(),
            shown.join("\n  ")
        );
    }
}

/// Every sale of the store, by id, through the paginated list.
fn all_sales(client: &Client, label: &str) -> BTreeMap<u64, Vec<(String, i64)>> {
    let mut sales = BTreeMap::new();
    let mut page = 1;
    loop {
        let r = client.get(&format!("{}?per_page=200&page={page}", sales_path()));
        assert_eq!(r.status, 200, "{label}: sales list page {page}: {}", r.body);
        let items = r.body["items"].as_array().expect("items in the sales list");
        let total = r.body["total"].as_u64().expect("a total in the sales list") as usize;
        for sale in items {
            let id = sale["id"].as_u64().expect("a sale id in the list");
            assert!(
                sales.insert(id, sale_lines(sale)).is_none(),
                "{label}: sale {id} is listed twice"
            );
        }
        if items.is_empty() || sales.len() >= total {
            assert_eq!(
                sales.len(),
                total,
                "{label}: sales listed vs the list's total"
            );
            return sales;
        }
        page += 1;
        assert!(page <= 1_000, "{label}: the sales list does not end");
    }
}

/// Checks everything after a restart (see the module doc) and records every attempt's sale
/// id, so later verifications demand the very same sale for every key.
fn verify(
    base: &str,
    skus: &[String],
    baseline: &BTreeSet<u64>,
    attempts: &mut [Attempt],
    label: &str,
) -> Totals {
    let client = Client::login(base);

    // 1. Every sale known to be recorded (201, or an earlier re-send) reads back intact.
    let lost: Vec<String> = in_parallel(&client, attempts, |c, _, a| {
        let id = a.sale?;
        let r = c.get(&format!("{}/{id}", sales_path()));
        if r.status != 200 {
            return Some(format!(
                "key {}: acknowledged sale {id} answers {} {}",
                a.key, r.status, r.body
            ));
        }
        let got = sale_lines(&r.body);
        (got != a.expected_lines(skus)).then(|| {
            format!(
                "key {}: sale {id} has lines {got:?}, acknowledged with {:?}",
                a.key,
                a.expected_lines(skus)
            )
        })
    })
    .into_iter()
    .flatten()
    .collect();
    fail_if_any(&lost, label, "acknowledged sales lost or changed");

    // 2. Re-send every request with its key and body.
    let resent = in_parallel(&client, attempts, |c, i, a| {
        let answer = c
            .post(&sales_path(), Some(&a.key), &a.body(skus))
            .map_err(|e| format!("key {}: no answer to the re-send: {e}", a.key))?;
        if answer.status != 201 {
            return Err(format!(
                "key {}: the re-send answered {} {}",
                a.key, answer.status, answer.body
            ));
        }
        let id = answer.body["id"]
            .as_u64()
            .ok_or_else(|| format!("key {}: 201 without an id: {}", a.key, answer.body))?;
        if sale_lines(&answer.body) != a.expected_lines(skus) {
            return Err(format!(
                "key {}: the re-send answered sale {id} with other lines: {}",
                a.key, answer.body
            ));
        }
        if let Some(known) = a.sale {
            if id != known {
                return Err(format!(
                    "key {}: was sale {known}, the re-send answered sale {id}",
                    a.key
                ));
            }
            if !answer.replayed {
                return Err(format!(
                    "key {}: sale {known} re-sent was not answered as a replay",
                    a.key
                ));
            }
        }
        Ok((i, id, answer.replayed))
    });
    let problems: Vec<String> = resent.iter().filter_map(|r| r.clone().err()).collect();
    fail_if_any(&problems, label, "re-sent requests answered wrongly");

    let known_before = attempts.iter().filter(|a| a.sale.is_some()).count();
    let mut recorded_unanswered = 0;
    let mut recorded_on_resend = 0;
    for (i, id, replayed) in resent.into_iter().flatten() {
        if attempts[i].sale.is_none() {
            if replayed {
                recorded_unanswered += 1;
            } else {
                recorded_on_resend += 1;
            }
        }
        attempts[i].sale = Some(id);
    }

    // 3. One sale per key, and no sale that no key accounts for.
    let mut by_id: BTreeMap<u64, &Attempt> = BTreeMap::new();
    let mut shared = Vec::new();
    for a in attempts.iter() {
        let id = a
            .sale
            .expect("every attempt has its sale after the re-sends");
        if let Some(other) = by_id.insert(id, a) {
            shared.push(format!(
                "keys {} and {} both answer sale {id}",
                other.key, a.key
            ));
        }
    }
    fail_if_any(&shared, label, "sales shared by two keys");
    let listed = all_sales(&client, label);
    let mut strays = Vec::new();
    for (id, lines) in &listed {
        if baseline.contains(id) {
            continue;
        }
        match by_id.get(id) {
            None => strays.push(format!(
                "sale {id} {lines:?} is in the store but no key answers it (recorded twice?)"
            )),
            Some(a) if *lines != a.expected_lines(skus) => strays.push(format!(
                "sale {id} is listed with {lines:?}, key {} sold {:?}",
                a.key,
                a.expected_lines(skus)
            )),
            Some(_) => {}
        }
    }
    for (id, a) in &by_id {
        if !listed.contains_key(id) {
            strays.push(format!(
                "sale {id} of key {} is missing from the list",
                a.key
            ));
        }
    }
    fail_if_any(
        &strays,
        label,
        "differences between the store's sales and the keys",
    );
    let sales = listed.len() - baseline.len();
    assert_eq!(
        sales,
        attempts.len(),
        "{label}: sales in the store (besides the {} before the test) vs keys sent",
        baseline.len()
    );

    // 4. On-hand = initial − everything sold, nothing more.
    let mut on_hand = Vec::new();
    for (s, sku) in skus.iter().enumerate() {
        let sold: i64 = attempts
            .iter()
            .flat_map(|a| a.lines.iter())
            .filter(|(line_sku, _)| *line_sku == s)
            .map(|(_, quantity)| quantity)
            .sum();
        let r = client.get(&format!("/api/v1/stores/{STORE}/stock/{sku}"));
        assert_eq!(r.status, 200, "{label}: stock of {sku}: {}", r.body);
        let actual = r.body["on_hand"].as_i64().expect("on_hand is a number");
        assert_eq!(
            actual,
            INITIAL - sold,
            "{label}: on hand of {sku} is {actual}, expected {INITIAL} − {sold} sold = {}",
            INITIAL - sold
        );
        on_hand.push(actual);
    }
    eprintln!(
        "{label}: {} keys, {known_before} known recorded, {recorded_unanswered} recorded \
         without an answer, {recorded_on_resend} recorded by the re-send; {sales} sales; \
         on hand {on_hand:?}",
        attempts.len()
    );
    Totals { sales, on_hand }
}

/// Where a start-up kill landed, from the ready line and this start's own log.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Landed {
    /// Nothing logged yet: the process was still being loaded (does not count).
    BeforeStartup,
    /// Start-up had begun (its first log line is written before the journal is opened)
    /// and recovery had not finished.
    InRecovery,
    /// Recovered, not ready yet (demo-data check, binding).
    AfterRecovery,
    /// The ready line came first (a wasted try).
    AfterReady,
}

/// Spawns the binary with its own log and SIGKILLs it after `delay`.
fn kill_during_start(data: &Path, backend: &str, log: &Path, delay: Duration) -> Landed {
    let _ = std::fs::remove_file(log);
    let (mut child, lines, reader) = spawn(data, backend, log);
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL during start-up");
    child.wait().expect("reap the killed server");
    reader
        .join()
        .expect("the stdout reader ends with the process");
    let log = std::fs::read_to_string(log).unwrap_or_default();
    if lines.try_iter().any(|l| l.starts_with(READY_PREFIX)) {
        Landed::AfterReady
    } else if log.trim().is_empty() {
        Landed::BeforeStartup
    } else if log.contains("recovery finished") {
        Landed::AfterRecovery
    } else {
        Landed::InRecovery
    }
}

fn crash_cycles(backend: &str) {
    let test_started = Instant::now();
    let temp = tempfile::tempdir().expect("a temp dir");
    let data = temp.path().join("data");
    let log: PathBuf = temp.path().join("server.log");
    let mut rng = rand::rng();

    // First start: the demo chain; count the SKUs the tills will sell.
    let server = start(&data, backend, &log, &format!("{backend} first start"));
    let client = Client::login(&server.base);
    let products = client.get(&format!("/api/v1/products?per_page={SKU_COUNT}"));
    assert_eq!(products.status, 200, "products: {}", products.body);
    let skus: Vec<String> = products.body["items"]
        .as_array()
        .expect("products items")
        .iter()
        .map(|p| p["sku"].as_str().expect("a sku").to_owned())
        .collect();
    assert_eq!(
        skus.len(),
        SKU_COUNT,
        "the demo catalog has {SKU_COUNT} products"
    );
    let counted: Vec<Value> = skus
        .iter()
        .map(|sku| json!({"sku": sku, "counted": INITIAL}))
        .collect();
    let r = client
        .post(
            &format!("/api/v1/stores/{STORE}/adjustments"),
            Some("crash-test-initial-count"),
            &json!({"reason": "comptage avant le test de panne", "lines": counted}),
        )
        .expect("an answer to the initial count");
    assert_eq!(r.status, 201, "initial count: {}", r.body);
    let baseline: BTreeSet<u64> = all_sales(&client, "baseline").into_keys().collect();
    let skus = Arc::new(skus);
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut server = server;
    let mut last_ready = server.ready_after;
    let mut totals = None;

    // Kills while the tills sell.
    for cycle in 1..=SERVING_KILLS {
        let label = format!("{backend} serving kill {cycle}");
        let token = Client::login(&server.base);
        let go = Arc::new(Barrier::new(TILLS + 1));
        let (ack_tx, ack_rx) = mpsc::channel();
        let tills: Vec<JoinHandle<TillReport>> = (0..TILLS)
            .map(|worker| {
                let (client, skus, go, ack) =
                    (token.fresh(), skus.clone(), go.clone(), ack_tx.clone());
                std::thread::spawn(move || till(client, skus, cycle, worker, go, ack))
            })
            .collect();
        drop(ack_tx);
        go.wait();
        ack_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{label}: no sale acknowledged within 30 s ({e})"));
        let delay = rng.random_range(KILL_AFTER_MS);
        std::thread::sleep(Duration::from_millis(delay));
        server.sigkill();
        let mut unexpected = Vec::new();
        let mut tried = 0;
        let mut acknowledged = 0;
        for handle in tills {
            let report = handle.join().expect("a till thread panicked");
            tried += report.attempts.len();
            acknowledged += report.attempts.iter().filter(|a| a.sale.is_some()).count();
            unexpected.extend(report.unexpected);
            attempts.extend(report.attempts);
        }
        fail_if_any(&unexpected, &label, "unexpected answers while selling");
        eprintln!(
            "{label}: SIGKILL {delay} ms after the first 201; {tried} sales tried, \
             {acknowledged} acknowledged, {} without an answer",
            tried - acknowledged
        );

        server = start(&data, backend, &log, &format!("{label}, restart"));
        last_ready = server.ready_after;
        totals = Some(verify(
            &server.base,
            &skus,
            &baseline,
            &mut attempts,
            &label,
        ));
    }
    let before_startup_kills = totals.expect("at least one serving kill");
    server.sigkill();

    // Kills during start-up: random moments within a start's duration (the journal is
    // largest now, so this is mostly replay).
    let ceiling_ms = (last_ready.as_millis() as u64).clamp(2, 300);
    let startup_log = temp.path().join("startup-kill.log");
    let mut landed: Vec<(u64, Landed)> = Vec::new();
    let during = |landed: &[(u64, Landed)]| {
        landed
            .iter()
            .filter(|(_, l)| matches!(l, Landed::InRecovery | Landed::AfterRecovery))
            .count()
    };
    while during(&landed) < STARTUP_KILLS {
        assert!(
            landed.len() < STARTUP_TRIES,
            "{backend}: only {} of {STARTUP_TRIES} kills landed during start-up \
             (starts take about {last_ready:?}); (delay ms, where): {landed:?}",
            during(&landed)
        );
        let delay = rng.random_range(0..ceiling_ms);
        let place = kill_during_start(&data, backend, &startup_log, Duration::from_millis(delay));
        landed.push((delay, place));
    }
    eprintln!(
        "{backend}: {} SIGKILLs during start-up (a start takes about {last_ready:?}); \
         (delay ms, where it landed): {landed:?}",
        during(&landed)
    );

    let server = start(
        &data,
        backend,
        &log,
        &format!("{backend} after the start-up kills"),
    );
    let after = verify(
        &server.base,
        &skus,
        &baseline,
        &mut attempts,
        &format!("{backend} after the start-up kills"),
    );
    assert_eq!(
        after, before_startup_kills,
        "{backend}: totals changed across the start-up kills"
    );
    assert!(
        after.sales > 0,
        "{backend}: no sale at all: the test proved nothing"
    );
    server.sigkill();
    eprintln!(
        "{backend}: crash test done in {:.1} s",
        test_started.elapsed().as_secs_f64()
    );
}

#[test]
fn sqlite_loses_nothing_and_duplicates_nothing_across_sigkills() {
    crash_cycles("sqlite");
}

#[test]
fn sled_loses_nothing_and_duplicates_nothing_across_sigkills() {
    crash_cycles("sled");
}
