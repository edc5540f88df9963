//! The real server on port 0 against a temp data dir, in its own actix system thread, and
//! a small blocking HTTP client over loopback.

use magasin::Application;
use magasin::config::Settings;
use magasin::persistence::{Backend, DataDirLock, JournalBackend};
use serde_json::Value;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

type Stopper = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

pub struct TestApp {
    pub base: String,
    stop: std::sync::Mutex<Option<Stopper>>,
    thread: Option<JoinHandle<()>>,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    agent: ureq::Agent,
    /// The demo admin's token, used by `get`/`post` unless another is given.
    pub admin: Option<String>,
}

/// A response: status, headers we look at, and the JSON body (Null when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub replayed: bool,
    pub retry_after: Option<String>,
    pub www_authenticate: Option<String>,
    /// `X-Content-Type-Options`, `Referrer-Policy`, `Cache-Control`, `Content-Security-Policy`.
    pub security: [Option<String>; 4],
    pub body: Value,
}

pub fn settings(data_dir: &Path, backend: Backend, demo: bool) -> Settings {
    let mut settings = Settings::defaults().expect("built-in defaults parse");
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = 2;
    settings.storage.data_dir = data_dir.to_path_buf();
    settings.storage.backend = backend;
    settings.demo.enabled = demo;
    settings
}

/// The demo chain on SQLite in a fresh temp dir.
pub fn spawn_app() -> TestApp {
    spawn_app_with(|_| {})
}

/// The demo chain on SQLite in a fresh temp dir, with settings of the test's own.
pub fn spawn_app_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    let temp = tempfile::tempdir().expect("temp dir");
    let mut s = settings(temp.path(), Backend::Sqlite, true);
    change(&mut s);
    let mut app = start(s);
    app._temp = Some(temp);
    app
}

/// Starts the server with `settings` (the data dir is the caller's to keep).
pub fn start(settings: Settings) -> TestApp {
    start_with(settings, None)
}

/// Starts the server over a journal backend the test opened (a disk that fails on demand).
pub fn start_on(settings: Settings, backend: Arc<dyn JournalBackend>) -> TestApp {
    start_with(settings, Some(backend))
}

fn start_with(settings: Settings, backend: Option<Arc<dyn JournalBackend>>) -> TestApp {
    let (tx, rx) = mpsc::channel();
    let data_dir = settings.storage.data_dir.clone();
    let demo = settings.demo.enabled;
    let thread = std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let built = match backend {
                None => Application::build(&settings).await,
                Some(backend) => match DataDirLock::acquire(&settings.storage.data_dir) {
                    Ok(lock) => Application::build_on(&settings, lock, backend).await,
                    Err(e) => Err(e.into()),
                },
            };
            match built {
                Ok(app) => {
                    let stopper: Stopper = Box::new(app.stopper());
                    let _ = tx.send(Ok((app.addr(), stopper)));
                    if let Err(e) = app.run_until_stopped().await {
                        eprintln!("test server stopped with an error: {e}");
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        });
    });
    let (addr, stopper) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server starts within a minute")
        .unwrap_or_else(|e| panic!("the server failed to start: {e}"));
    let mut app = TestApp {
        base: format!("http://{addr}"),
        stop: std::sync::Mutex::new(Some(stopper)),
        thread: Some(thread),
        data_dir,
        _temp: None,
        agent: ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build(),
        admin: None,
    };
    if demo {
        app.admin = Some(app.login("admin"));
    }
    app
}

fn reply(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = response.status();
    let content_type = response.header("Content-Type").unwrap_or("").to_owned();
    let location = response.header("Location").map(str::to_owned);
    let replayed = response.header("Idempotent-Replayed") == Some("true");
    let retry_after = response.header("Retry-After").map(str::to_owned);
    let www_authenticate = response.header("WWW-Authenticate").map(str::to_owned);
    let security = [
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cache-Control",
        "Content-Security-Policy",
    ]
    .map(|name| response.header(name).map(str::to_owned));
    // A live feed never ends: its status and headers are the answer.
    if content_type == "text/event-stream" {
        return Reply {
            status,
            content_type,
            location,
            replayed,
            retry_after,
            www_authenticate,
            security,
            body: Value::Null,
        };
    }
    let text = response.into_string().expect("a readable body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        content_type,
        location,
        replayed,
        retry_after,
        www_authenticate,
        security,
        body,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorized(&self, request: ureq::Request, token: Option<&str>) -> ureq::Request {
        match token.or(self.admin.as_deref()) {
            Some(token) => request.set("Authorization", &format!("Bearer {token}")),
            None => request,
        }
    }

    /// Logs in with `password` and returns the token.
    pub fn login_as(&self, username: &str, password: &str) -> String {
        let r = reply(
            self.agent
                .post(&self.url("/api/v1/auth/login"))
                .send_json(serde_json::json!({"username": username, "password": password})),
        );
        assert_eq!(r.status, 200, "login {username}: {:?}", r.body);
        r.body["token"].as_str().expect("a token").to_owned()
    }

    /// Logs in as a demo user (password `demo`) and returns the token.
    pub fn login(&self, username: &str) -> String {
        self.login_as(username, "demo")
    }

    pub fn get(&self, path: &str) -> Reply {
        self.get_as(None, path)
    }

    /// GET with `token` (or the admin's when `None`).
    pub fn get_as(&self, token: Option<&str>, path: &str) -> Reply {
        reply(
            self.authorized(self.agent.get(&self.url(path)), token)
                .call(),
        )
    }

    /// GET with exactly these headers: no token added.
    pub fn get_with_headers(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.agent.get(&self.url(path));
        for (name, value) in headers {
            request = request.set(name, value);
        }
        reply(request.call())
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_as(None, path, body)
    }

    pub fn post_as(&self, token: Option<&str>, path: &str, body: &Value) -> Reply {
        reply(
            self.authorized(self.agent.post(&self.url(path)), token)
                .send_json(body),
        )
    }

    pub fn post_as_with_key(
        &self,
        token: Option<&str>,
        path: &str,
        key: &str,
        body: &Value,
    ) -> Reply {
        reply(
            self.authorized(self.agent.post(&self.url(path)), token)
                .set("Idempotency-Key", key)
                .send_json(body),
        )
    }

    /// POST without any token.
    /// `method` (PUT, PATCH…) with a JSON body, with `token` (or the admin's when `None`).
    pub fn send_as(&self, method: &str, token: Option<&str>, path: &str, body: &Value) -> Reply {
        reply(
            self.authorized(self.agent.request(method, &self.url(path)), token)
                .send_json(body),
        )
    }

    pub fn patch_as(&self, token: Option<&str>, path: &str, body: &Value) -> Reply {
        self.send_as("PATCH", token, path, body)
    }

    pub fn send_anonymous(&self, method: &str, path: &str, body: &Value) -> Reply {
        reply(self.agent.request(method, &self.url(path)).send_json(body))
    }

    pub fn post_anonymous(&self, path: &str, body: &Value) -> Reply {
        reply(self.agent.post(&self.url(path)).send_json(body))
    }

    pub fn post_with_key(&self, path: &str, key: &str, body: &Value) -> Reply {
        reply(
            self.authorized(self.agent.post(&self.url(path)), None)
                .set("Idempotency-Key", key)
                .send_json(body),
        )
    }

    /// A raw body with a content type of the caller's choosing.
    pub fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Reply {
        reply(
            self.authorized(self.agent.post(&self.url(path)), None)
                .set("Content-Type", content_type)
                .send_string(body),
        )
    }

    /// `POST /api/v1/stores/{store}/sales` with an Idempotency-Key.
    pub fn sell(&self, store: u32, key: &str, body: &Value) -> Reply {
        self.post_with_key(&format!("/api/v1/stores/{store}/sales"), key, body)
    }

    /// `GET /api/v1/stores/{store}/sales`: the first page of the store's sales.
    pub fn sales(&self, store: u32) -> Reply {
        self.get(&format!("/api/v1/stores/{store}/sales"))
    }

    /// `GET /api/v1/stores/{store}/stock`: the first page of the store's stock lines.
    pub fn stock(&self, store: u32) -> Reply {
        self.get(&format!("/api/v1/stores/{store}/stock"))
    }

    pub fn on_hand(&self, store: u32, sku: &str) -> i64 {
        let r = self.get(&format!("/api/v1/stores/{store}/stock/{sku}"));
        assert_eq!(r.status, 200, "stock line {store}/{sku}: {:?}", r.body);
        r.body["on_hand"].as_i64().expect("on_hand is a number")
    }

    /// Sets on-hand by physical count.
    pub fn count(&self, store: u32, sku: &str, counted: i64) {
        let body = serde_json::json!({"reason": "comptage de test", "lines": [{"sku": sku, "counted": counted}]});
        let r = self.post(&format!("/api/v1/stores/{store}/adjustments"), &body);
        assert_eq!(r.status, 201, "count: {:?}", r.body);
    }

    /// Graceful stop (as SIGTERM would): waits for the snapshots and the journal to drain.
    pub fn stop(mut self) -> PathBuf {
        self.shutdown();
        self.data_dir.clone()
    }

    fn shutdown(&mut self) {
        // Close our keep-alive connections first, so the graceful stop has nothing to wait for.
        self.agent = ureq::Agent::new();
        let stop = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(stop) = stop {
            actix_rt::System::new().block_on(stop());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Asserts an RFC 9457 problem with this status and code.
pub fn assert_problem(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "status of {:?}", reply.body);
    assert_eq!(
        reply.content_type, "application/problem+json",
        "content type of {:?}",
        reply.body
    );
    assert_eq!(reply.body["code"], code, "code of {:?}", reply.body);
    assert_eq!(reply.body["status"], status);
    assert!(
        reply.body["title"].is_string()
            && reply.body["detail"].is_string()
            && reply.body["type"].is_string()
    );
}

/// (method, template) of every `#[get("…")]` / `#[post("…")]` in `src/http`: the routes the
/// server registers (operations routes at the root, the API under /api/v1).
/// The fields a 400 `validation_failed` names, in order.
pub fn error_fields(reply: &Reply) -> Vec<&str> {
    reply.body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default()
}

/// A valid EAN-13 from its first twelve digits.
pub fn ean13(first12: &str) -> String {
    let sum: u32 = first12
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{first12}{}", (10 - sum % 10) % 10)
}

pub fn declared_routes() -> std::collections::BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut routes = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("src/http is readable") {
        let file = entry.expect("an entry").path();
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let at_root = ["ops.rs", "openapi.rs", "ui.rs"]
            .iter()
            .any(|f| file.ends_with(f));
        let prefix = if at_root {
            ""
        } else if file.ends_with("internal.rs") {
            "/internal/v1"
        } else {
            "/api/v1"
        };
        let text = std::fs::read_to_string(&file).expect("a source file");
        // rustfmt puts a long attribute's path on the line after `#[post(`.
        let text = text.replace("(\n", "(");
        for line in text.lines() {
            for (attribute, method) in [
                ("#[get(", "GET"),
                ("#[post(", "POST"),
                ("#[put(", "PUT"),
                ("#[patch(", "PATCH"),
                ("#[delete(", "DELETE"),
            ] {
                let quoted = line.trim().strip_prefix(attribute).map(str::trim_start);
                if let Some(rest) = quoted.and_then(|r| r.strip_prefix('"')) {
                    let path = rest.split('"').next().expect("a quoted path");
                    routes.insert((method.to_owned(), format!("{prefix}{path}")));
                }
            }
        }
    }
    routes
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
