//! The life of a user account over HTTP: a new password ends every other session; an
//! administrator's reset must be replaced at the next login; the command line recovers a
//! chain whose administrators are lost, on a stopped instance; every change is in the log
//! with who made it. And the login throttle as a client behind a proxy sees it.

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

/// (status, Retry-After, body) of a login sent with these extra headers.
fn login_with(
    app: &TestApp,
    headers: &[(&str, &str)],
    username: &str,
    password: &str,
) -> (u16, Option<String>, Value) {
    let mut request = ureq::post(&app.url("/api/v1/auth/login"));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let answer = request.send_json(json!({"username": username, "password": password}));
    let response = match answer {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("login: {e}"),
    };
    let status = response.status();
    let retry_after = response.header("Retry-After").map(str::to_owned);
    (
        status,
        retry_after,
        response.into_json().unwrap_or(Value::Null),
    )
}

fn change_password(
    app: &TestApp,
    username: &str,
    current: &str,
    new: &str,
) -> crate::helpers::Reply {
    app.post_anonymous(
        "/api/v1/auth/password",
        &json!({"username": username, "current_password": current, "new_password": new}),
    )
}

/// The log of user changes for `username`, newest first: (change, by).
fn changes_of(app: &TestApp, token: &str, username: &str) -> Vec<(String, Value)> {
    let log = app.get_as(
        Some(token),
        &format!("/api/v1/user-changes?username={username}"),
    );
    assert_eq!(log.status, 200, "{:?}", log.body);
    log.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            assert_eq!(e["username"], username);
            assert!(e["at"].as_str().is_some_and(|at| at.ends_with('Z')), "{e}");
            (
                e["change"].as_str().unwrap_or_default().to_owned(),
                e["by"].clone(),
            )
        })
        .collect()
}

#[test]
fn a_new_password_ends_every_other_session_and_answers_a_fresh_token() {
    let app = spawn_app();
    let till = app.login("caissier1");
    let office = app.login("caissier1");
    let stock = "/api/v1/stores/1/stock?per_page=1";
    assert_eq!(app.get_as(Some(&till), stock).status, 200);

    // Refused without changing anything: the current password wrong, a weak or unchanged one.
    assert_problem(
        &change_password(&app, "caissier1", "pas-demo", "un-nouveau-secret"),
        401,
        "invalid_credentials",
    );
    let weak = change_password(&app, "caissier1", "demo", "court");
    assert_problem(&weak, 400, "validation_failed");
    assert_eq!(error_fields(&weak), ["new_password"]);
    let same = change_password(&app, "caissier1", "demo", "demo");
    assert_eq!(error_fields(&same), ["new_password"]);
    assert_eq!(
        app.get_as(Some(&till), stock).status,
        200,
        "nothing changed yet"
    );

    let changed = change_password(&app, "caissier1", "demo", "un-nouveau-secret");
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["user"]["username"], "caissier1");
    let fresh = changed.body["token"]
        .as_str()
        .expect("a new token")
        .to_owned();
    for old in [&till, &office] {
        assert_problem(&app.get_as(Some(old), stock), 401, "invalid_token");
    }
    assert_eq!(app.get_as(Some(&fresh), stock).status, 200);
    let (status, _, _) = login_with(&app, &[], "caissier1", "demo");
    assert_eq!(status, 401, "the old password is gone");
    app.login_as("caissier1", "un-nouveau-secret");
    // Other users' sessions are untouched.
    assert_eq!(app.get("/api/v1/users").status, 200);
    let admin = app.admin.clone().expect("the admin's token");
    assert_eq!(
        changes_of(&app, &admin, "caissier1"),
        [
            ("password_changed".to_owned(), json!("caissier1")),
            ("created".to_owned(), Value::Null),
        ],
        "the demo seeded the user, by no one"
    );
}

#[test]
fn a_reset_password_must_be_replaced_at_the_next_login_and_the_log_says_who() {
    let app = spawn_app();
    let before = app.login("caissier1");
    let cashier = app.post_as(
        Some(&before),
        "/api/v1/users/caissier2/reset-password",
        &json!({}),
    );
    assert_problem(&cashier, 403, "forbidden");
    let reset = app.post("/api/v1/users/caissier1/reset-password", &json!({}));
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    let temporary = reset.body["temporary_password"]
        .as_str()
        .expect("shown once")
        .to_owned();
    assert_eq!(temporary.chars().count(), 16);
    assert_problem(
        &app.get_as(Some(&before), "/api/v1/stores/1/stock"),
        401,
        "invalid_token",
    );
    let listed = app.get("/api/v1/users");
    let caissier1 = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["username"] == "caissier1")
        .cloned()
        .expect("listed");
    assert_eq!(caissier1["must_change_password"], true);

    // The temporary password is right, but it opens no session.
    let (status, _, body) = login_with(&app, &[], "caissier1", &temporary);
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("password_change_required")),
        "{body}"
    );
    let (status, _, _) = login_with(&app, &[], "caissier1", "demo");
    assert_eq!(status, 401, "the old password is gone");
    let chosen = change_password(&app, "caissier1", &temporary, "le-mien-enfin");
    assert_eq!(chosen.status, 200, "{:?}", chosen.body);
    let token = chosen.body["token"].as_str().expect("a token");
    assert_eq!(
        app.get_as(Some(token), "/api/v1/stores/1/stock?per_page=1")
            .status,
        200
    );
    app.login_as("caissier1", "le-mien-enfin");

    let admin = app.admin.clone().expect("the admin's token");
    assert_eq!(
        changes_of(&app, &admin, "caissier1"),
        [
            ("password_changed".to_owned(), json!("caissier1")),
            ("password_reset".to_owned(), json!("admin")),
            ("created".to_owned(), Value::Null),
        ]
    );
    let unknown = app.post("/api/v1/users/personne/reset-password", &json!({}));
    assert_eq!(unknown.status, 404, "{:?}", unknown.body);
}

#[test]
fn demoting_the_last_administrator_is_refused_and_a_reactivated_user_signs_in_again() {
    let app = spawn_app();
    let demote = app.patch_as(None, "/api/v1/users/admin", &json!({"role": "logistics"}));
    assert_problem(&demote, 409, "last_administrator");
    let token = app.login("caissier1");
    assert_eq!(
        app.post("/api/v1/users/caissier1/deactivate", &json!({}))
            .status,
        200
    );
    assert_eq!(
        app.post("/api/v1/users/caissier1/reactivate", &json!({}))
            .status,
        200
    );
    // A deactivation ended the session; a reactivation does not bring it back.
    assert_problem(
        &app.get_as(Some(&token), "/api/v1/stores/1/stock"),
        401,
        "invalid_token",
    );
    app.login("caissier1");
    let admin = app.admin.clone().expect("the admin's token");
    let log = changes_of(&app, &admin, "caissier1");
    assert_eq!(
        log,
        [
            ("reactivated".to_owned(), json!("admin")),
            ("deactivated".to_owned(), json!("admin")),
            ("created".to_owned(), Value::Null),
        ]
    );
}

/// (status, body) of an anonymous POST to the server at `base`.
fn post_to(base: &str, path: &str, body: Value) -> (u16, Value) {
    match ureq::post(&format!("{base}{path}")).send_json(body) {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("{path}: {e}"),
    }
}

#[test]
fn the_command_line_recovers_a_chain_whose_administrators_are_lost_on_a_stopped_instance() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = crate::process::start(crate::process::command(dir.path()));
    let base = server.base.clone();
    let post = |path: &str, body: Value| post_to(&base, path, body);
    // The only administrator's password is set to something nobody remembers.
    let (status, _) = post(
        "/api/v1/auth/password",
        json!({"username": "admin", "current_password": "demo", "new_password": "oublie-aussitot-42"}),
    );
    assert_eq!(status, 200);
    let recover = || {
        Command::new(env!("CARGO_BIN_EXE_magasin"))
            .args(["admin", "reset-password", "admin", "--data-dir"])
            .arg(dir.path())
            .output()
            .expect("the binary runs")
    };
    let busy = recover();
    assert!(!busy.status.success(), "refused while the instance runs");
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert!(
        stderr.contains("another magasin process"),
        "stderr: {stderr}"
    );
    assert!(server.terminate());

    let done = recover();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "stdout: {stdout} stderr: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    let temporary = stdout
        .lines()
        .find_map(|l| l.strip_prefix("temporary password of admin: "))
        .expect("the temporary password is printed")
        .trim()
        .to_owned();

    let server = crate::process::start(crate::process::command(dir.path()));
    let base = server.base.clone();
    let post = |path: &str, body: Value| post_to(&base, path, body);
    let (status, body) = post(
        "/api/v1/auth/login",
        json!({"username": "admin", "password": temporary}),
    );
    assert_eq!(
        (status, body["code"].clone()),
        (403, json!("password_change_required"))
    );
    let (status, body) = post(
        "/api/v1/auth/password",
        json!({"username": "admin", "current_password": temporary, "new_password": "retrouve-enfin"}),
    );
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("a token").to_owned();
    let log: Value = ureq::get(&format!("{base}/api/v1/user-changes?username=admin"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("the administrator reads the log")
        .into_json()
        .expect("json");
    let entries: Vec<(Value, Value)> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| (e["change"].clone(), e["by"].clone()))
        .collect();
    assert_eq!(
        entries,
        [
            (json!("password_changed"), json!("admin")),
            (json!("password_recovered"), Value::Null),
            (json!("password_changed"), json!("admin")),
            (json!("created"), Value::Null),
        ]
    );
    assert!(server.terminate());
}

/// A server behind a proxy at 127.0.0.1 (every test client), which names the client in
/// `X-Forwarded-For`.
fn behind_a_proxy() -> TestApp {
    spawn_app_with(|s| s.server.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a block")])
}

#[test]
fn five_failures_from_one_address_refuse_it_while_the_user_signs_in_from_another() {
    let app = behind_a_proxy();
    let intruder = [("X-Forwarded-For", "203.0.113.66")];
    for attempt in 1..=5 {
        let (status, retry_after, _) = login_with(&app, &intruder, "caissier1", "mauvais");
        assert_eq!((status, retry_after), (401, None), "attempt {attempt}");
    }
    let (status, retry_after, body) = login_with(&app, &intruder, "caissier1", "demo");
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
    let wait: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!(wait > 14 * 60 && wait <= 15 * 60, "Retry-After {wait}");
    // The till, at its own address, is slowed, not locked out.
    let till = [("X-Forwarded-For", "198.51.100.7")];
    let started = Instant::now();
    let (status, _, body) = login_with(&app, &till, "caissier1", "demo");
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "slowed by the failures elsewhere"
    );
    // A client that names itself in the header, through the proxy, is still the proxy's client.
    let spoofed = [("X-Forwarded-For", "198.51.100.7, 203.0.113.66")];
    let (status, _, _) = login_with(&app, &spoofed, "caissier1", "demo");
    assert_eq!(
        status, 429,
        "the proxy's own entry, on the right, is the client"
    );
}

#[test]
fn a_forwarded_for_header_from_a_peer_that_is_no_proxy_is_ignored() {
    let app = spawn_app();
    for attempt in 1..=5 {
        let spoof = format!("203.0.113.{attempt}");
        let (status, _, _) =
            login_with(&app, &[("X-Forwarded-For", &spoof)], "caissier1", "mauvais");
        assert_eq!(status, 401, "attempt {attempt}");
    }
    // Every attempt counted against the peer itself, whatever the header said.
    let (status, _, body) = login_with(
        &app,
        &[("X-Forwarded-For", "198.51.100.99")],
        "caissier1",
        "demo",
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
}
