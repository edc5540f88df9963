//! Operations: health checks, request ids, metrics checked with the reference OpenMetrics
//! parser, structured JSON logs.

use crate::helpers::{TestApp, assert_problem, spawn_app};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// Every sample of `/metrics`, as parsed by `scripts/parse-openmetrics.py` (the
/// prometheus_client reference parser, installed by `scripts/test.sh`).
fn scrape(app: &TestApp) -> Vec<Value> {
    let text = ureq::get(&app.url("/metrics"))
        .call()
        .expect("metrics answer")
        .into_string()
        .expect("metrics text");
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics text ends with # EOF"
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/parse-openmetrics.py");
    let mut parser = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test.sh installs it with prometheus_client)");
    parser
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("the exposition is written");
    let output = parser.wait_with_output().expect("the parser ends");
    assert!(
        output.status.success(),
        "the OpenMetrics parser rejected /metrics (is prometheus_client installed? scripts/test.sh does it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON sample"))
        .collect()
}

fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s["name"] == name)
        .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .map(|s| s["value"].as_f64().expect("a number"))
        .sum()
}

#[test]
fn metrics_parse_and_counters_move_by_what_happened() {
    let app = spawn_app();
    app.count(1, "EPI-0001", 100);
    let before = scrape(&app);
    let families: std::collections::BTreeSet<&str> =
        before.iter().filter_map(|s| s["family"].as_str()).collect();
    for family in [
        "magasin_http_requests",
        "magasin_http_request_duration_seconds",
        "magasin_http_requests_in_flight",
        "magasin_actor_mailbox_pending",
        "magasin_journal_flush_duration_seconds",
        "magasin_journal_batch_events",
        "magasin_snapshot_encode_duration_seconds",
        "magasin_recovery_duration_seconds",
        "magasin_sales",
        "magasin_sale_units",
        "magasin_revenue_cents",
        "magasin_returns",
        "magasin_restock_requests",
        "magasin_login_failures",
    ] {
        assert!(families.contains(family), "{family} in {families:?}");
    }
    let mut revenue = 0;
    for q in [1, 2, 3] {
        let sale = app.post(
            "/api/v1/stores/1/sales",
            &json!({"lines": [{"sku": "EPI-0001", "quantity": q}]}),
        );
        assert_eq!(sale.status, 201);
        revenue += sale.body["total_cents"].as_i64().expect("total");
    }
    app.post(
        "/api/v1/stores/1/sales/1/returns",
        &json!({"lines": [{"sku": "EPI-0001", "quantity": 1}]}),
    );
    app.post_anonymous(
        "/api/v1/auth/login",
        &json!({"username": "admin", "password": "faux"}),
    );
    assert_eq!(app.get("/api/v1/nulle-part").status, 404);
    let after = scrape(&app);
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(moved("magasin_sales_total", &[]), 3.0);
    assert_eq!(moved("magasin_sale_units_total", &[]), 6.0);
    assert_eq!(moved("magasin_revenue_cents_total", &[]), revenue as f64);
    assert_eq!(moved("magasin_returns_total", &[]), 1.0);
    assert_eq!(moved("magasin_login_failures_total", &[]), 1.0);
    let sales_route = [
        ("route", "/api/v1/stores/{store_id}/sales"),
        ("method", "POST"),
        ("status", "2xx"),
    ];
    assert_eq!(moved("magasin_http_requests_total", &sales_route), 3.0);
    let latency = [
        ("route", "/api/v1/stores/{store_id}/sales"),
        ("method", "POST"),
    ];
    assert_eq!(
        moved("magasin_http_request_duration_seconds_count", &latency),
        3.0
    );
    assert_eq!(
        moved(
            "magasin_http_requests_total",
            &[("route", "unmatched"), ("status", "4xx")]
        ),
        1.0
    );
    assert!(moved("magasin_journal_flush_duration_seconds_count", &[]) >= 1.0);
    // No per-id labels: no label holds a store id, SKU or raw path.
    for sample in &after {
        let labels = sample["labels"].as_object().expect("labels");
        assert!(
            !labels.contains_key("store_id") && !labels.contains_key("sku"),
            "{sample}"
        );
        if let Some(route) = labels.get("route").and_then(Value::as_str) {
            assert!(!route.contains("/stores/1"), "raw path as a label: {route}");
        }
    }
}

#[test]
fn health_checks_answer_without_a_token() {
    let app = spawn_app();
    let live = app.get_with_headers("/health/live", &[]);
    assert_eq!(
        (live.status, live.body["status"].clone()),
        (200, json!("live"))
    );
    let ready = app.get_with_headers("/health/ready", &[]);
    assert_eq!(
        (ready.status, ready.body["status"].clone()),
        (200, json!("ready"))
    );
    assert_eq!(ready.body["reference_data"], "owner", "alone, it owns it");
}

#[test]
fn request_ids_are_echoed_generated_and_named_in_errors() {
    let app = spawn_app();
    let response = ureq::get(&app.url("/api/v1/stores/99"))
        .set("X-Request-Id", "caisse-3.req_42")
        .set(
            "Authorization",
            &format!("Bearer {}", app.admin.as_deref().expect("admin")),
        )
        .call();
    let Err(ureq::Error::Status(404, response)) = response else {
        panic!("a 404");
    };
    assert_eq!(response.header("X-Request-Id"), Some("caisse-3.req_42"));
    let body: Value = response.into_json().expect("a problem");
    assert_eq!(body["instance"], "urn:magasin:request:caisse-3.req_42");

    let generated = ureq::get(&app.url("/health/live")).call().expect("live");
    let id = generated.header("X-Request-Id").expect("an id").to_owned();
    assert_eq!(id.len(), 36, "a generated UUID: {id}");
    let replaced = ureq::get(&app.url("/health/live"))
        .set("X-Request-Id", "pas d'espaces ni de ; permis")
        .call()
        .expect("live");
    assert_ne!(
        replaced.header("X-Request-Id"),
        Some("pas d'espaces ni de ; permis")
    );
    assert_problem(&app.get("/api/v1/stores/99"), 404, "store_not_found");
}

#[test]
fn json_logs_have_one_line_per_request_with_its_fields() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("a log file");
    let mut command = crate::process::command(&dir.path().join("data"));
    command.stderr(log).env("MAGASIN_LOG_FORMAT", "json");
    let server = crate::process::start(command);
    let agent = ureq::Agent::new();
    let login: Value = agent
        .post(&format!("{}/api/v1/auth/login", server.base))
        .send_json(json!({"username": "caissier1", "password": "demo"}))
        .expect("login")
        .into_json()
        .expect("a token");
    let token = login["token"].as_str().expect("token");
    agent
        .get(&format!("{}/api/v1/stores/1/stock?per_page=1", server.base))
        .set("Authorization", &format!("Bearer {token}"))
        .set("X-Request-Id", "journal-json-1")
        .call()
        .expect("stock");
    assert!(server.terminate());
    let text = std::fs::read_to_string(&log_path).expect("the log");
    let lines: Vec<HashMap<String, Value>> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let request = lines
        .iter()
        .map(|l| &l["fields"])
        .find(|f| f["request_id"] == "journal-json-1")
        .expect("the request's line");
    assert_eq!(request["method"], "GET");
    assert_eq!(request["route"], "/api/v1/stores/{store_id}/stock");
    assert_eq!(request["status"], 200);
    assert_eq!(request["user"], "caissier1");
    assert_eq!(request["store"], "1");
    assert!(request["latency_ms"].as_f64().is_some());
}
