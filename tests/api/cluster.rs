//! The cluster's routing: real HAProxy (Debian's package, with its Lua) running the
//! shipped `haproxy/magasin.lua` names the same owner as `magasin::cluster::owner` for
//! every store, so HAProxy sends each store's requests to the instance holding its actor.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use magasin::cluster::{CHAIN_KEY, InternalKeys, owner, product_key, store_key};
use magasin::domain::{Sku, StoreId};
use magasin::persistence::Backend;

use crate::helpers::{TestApp, free_port, settings, spawn_app, start};

struct Proxy {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn haproxy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("haproxy")
}

/// HAProxy loading the shipped Lua, with one frontend that answers the owner it computed
/// for the request's path (an empty body when the path names no store).
fn routing_probe(instances: &[String]) -> Proxy {
    let dir = tempfile::tempdir().expect("a temp dir");
    let port = free_port();
    let config = format!(
        "global\n    lua-load \"{lua}\"\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         frontend probe\n    bind 127.0.0.1:{port}\n\
         \x20   http-request set-var(txn.owner) lua.magasin_owner\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"%[var(txn.owner)]\"\n",
        lua = haproxy_dir().join("magasin.lua").display(),
    );
    let path = dir.path().join("probe.cfg");
    std::fs::write(&path, config).expect("config written");
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .env("MAGASIN_INSTANCES", instances.join(","))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy must be installed (scripts/test.sh installs Debian's haproxy)");
    let proxy = Proxy {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while ureq::get(&format!("{}/", proxy.base)).call().is_err() {
        assert!(
            Instant::now() < deadline,
            "haproxy did not answer within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy
}

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("magasin-{i}")).collect()
}

fn owner_by_haproxy(agent: &ureq::Agent, proxy: &Proxy, path: &str) -> String {
    agent
        .get(&format!("{}{path}", proxy.base))
        .call()
        .expect("the probe answers")
        .into_string()
        .expect("a text body")
}

#[test]
fn haproxy_and_the_code_name_the_same_owner_for_10000_stores() {
    for instances in [names(3), names(5)] {
        let proxy = routing_probe(&instances);
        let agent = ureq::AgentBuilder::new().build();
        let mut differ = Vec::new();
        let mut per_instance = vec![0_usize; instances.len()];
        for id in 1..=10_000_u32 {
            let store = StoreId::new(id).expect("a valid id");
            let expected = owner(&store_key(store), &instances).expect("an owner");
            let got = owner_by_haproxy(&agent, &proxy, &format!("/api/v1/stores/{id}/sales"));
            if got != expected {
                differ.push((id, got, expected.to_owned()));
            }
            if let Some(i) = instances.iter().position(|n| n == expected) {
                per_instance[i] += 1;
            }
        }
        assert!(
            differ.is_empty(),
            "{} of 10,000 stores differ with {} instances, e.g. {:?}",
            differ.len(),
            instances.len(),
            &differ[..differ.len().min(5)]
        );
        // Every instance owns a share (a constant function would also "agree").
        assert!(
            per_instance
                .iter()
                .all(|n| *n > 10_000 / instances.len() / 2),
            "{per_instance:?}"
        );
    }
}

#[test]
fn haproxy_reads_store_ids_as_the_server_does_and_leaves_other_paths_unowned() {
    let instances = names(3);
    let proxy = routing_probe(&instances);
    let agent = ureq::AgentBuilder::new().build();
    let seven = owner(&store_key(StoreId::new(7).expect("valid")), &instances).expect("owner");
    // The server parses "007" as store 7: HAProxy must route it to store 7's owner.
    assert_eq!(
        owner_by_haproxy(&agent, &proxy, "/api/v1/stores/007/stock"),
        seven
    );
    assert_eq!(owner_by_haproxy(&agent, &proxy, "/api/v1/stores/7"), seven);
    for path in [
        "/api/v1/stores",
        "/api/v1/products",
        "/api/v1/stores/abc/sales",
        "/api/v1/stores/0/sales",
        "/api/v1/stores/99999999999/sales",
        "/health/ready",
    ] {
        assert_eq!(owner_by_haproxy(&agent, &proxy, path), "", "{path}");
    }
}

/// (status, X-Magasin-Instance, body) of a GET with the admin's token.
fn get_with_instance(app: &TestApp, token: &str, path: &str) -> (u16, String, serde_json::Value) {
    let response = match ureq::get(&format!("{}{path}", app.base))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = response.status();
    let instance = response
        .header("X-Magasin-Instance")
        .unwrap_or_default()
        .to_owned();
    let body = response.into_json().unwrap_or(serde_json::Value::Null);
    (status, instance, body)
}

#[test]
fn an_instance_answers_421_naming_the_owner_for_a_store_it_does_not_own() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let instances = names(3);
    assert_eq!(owner(CHAIN_KEY, &instances), Some("magasin-2"));
    let app = second_of_three(temp.path(), "a cluster secret of at least 32 chars");
    let token = app.login("admin");
    let owner_of = |id: u32| {
        owner(&store_key(StoreId::new(id).expect("valid")), &instances)
            .expect("an owner")
            .to_owned()
    };
    let (mine, theirs): (Vec<u32>, Vec<u32>) = (1..=5).partition(|id| owner_of(*id) == "magasin-2");
    assert!(
        !mine.is_empty() && !theirs.is_empty(),
        "{mine:?} {theirs:?}"
    );
    for id in &mine {
        let (status, instance, _) =
            get_with_instance(&app, &token, &format!("/api/v1/stores/{id}/stock"));
        assert_eq!(
            (status, instance.as_str()),
            (200, "magasin-2"),
            "store {id}"
        );
    }
    for id in &theirs {
        let (status, instance, body) =
            get_with_instance(&app, &token, &format!("/api/v1/stores/{id}/sales"));
        assert_eq!(
            (status, instance.as_str()),
            (421, "magasin-2"),
            "store {id}: {body}"
        );
        assert_eq!(body["code"], "misdirected_request");
        assert_eq!(body["errors"][0]["owner"], owner_of(*id), "store {id}");
    }
    // A sale sent to the wrong instance is refused before anything is recorded.
    let id = theirs[0];
    let sale = ureq::post(&format!("{}/api/v1/stores/{id}/sales", app.base))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Idempotency-Key", "misrouted-1")
        .send_json(serde_json::json!({"lines": [{"sku": "EPI-0001", "quantity": 1}]}));
    assert!(matches!(sale, Err(ureq::Error::Status(421, _))), "{sale:?}");
    // Paths that name no store are served here, and say so.
    let (status, instance, _) = get_with_instance(&app, &token, "/health/live");
    assert_eq!((status, instance.as_str()), (200, "magasin-2"));
}

#[test]
fn the_internal_api_refuses_calls_without_the_cluster_secret() {
    let app = spawn_app();
    let token = app.login("admin");
    for (path, auth) in [
        ("/internal/v1/chain/events?after=0", None),
        (
            "/internal/v1/chain/events?after=0",
            Some(format!("Bearer {token}")),
        ),
    ] {
        let mut request = ureq::get(&app.url(path));
        if let Some(auth) = &auth {
            request = request.set("Authorization", auth);
        }
        let forged = request.set("X-Magasin-Cluster", &token).call();
        match forged {
            Err(ureq::Error::Status(401, r)) => {
                let body: serde_json::Value = r.into_json().expect("problem+json");
                assert_eq!(body["code"], "cluster_unauthenticated");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
    let write = ureq::post(&app.url("/internal/v1/central/EPI-0001")).send_json(
        serde_json::json!({"op": "receive", "receipt": "x", "quantity": 5, "by": "admin"}),
    );
    assert!(
        matches!(write, Err(ureq::Error::Status(401, _))),
        "{write:?}"
    );
    let stock = app.get("/api/v1/logistics/stock?q=EPI-0001");
    assert_eq!(stock.status, 200);
    assert_eq!(stock.body["partial"], false);
}

/// magasin-2 of three, the others absent, over the demo chain seeded by one instance
/// alone: the owner of the reference data, so it keeps the users.
fn second_of_three(temp: &std::path::Path, cluster_secret: &str) -> TestApp {
    start(settings(temp, Backend::Sqlite, true)).stop();
    let mut settings = settings(temp, Backend::Sqlite, false);
    settings.cluster.instance = "magasin-2".into();
    settings.cluster.instances = names(3);
    settings.cluster.addresses = names(3)
        .into_iter()
        .map(|n| (n, format!("http://127.0.0.1:{}", free_port())))
        .collect();
    settings.cluster.secret = Some(cluster_secret.into());
    settings.auth.jwt_secret = Some("a token secret of at least 32 characters".into());
    start(settings)
}

#[test]
fn an_internal_token_opens_once_only_the_body_and_query_it_was_signed_for() {
    let secret = "a cluster secret of at least 32 chars";
    let temp = tempfile::tempdir().expect("a temp dir");
    let mut app = second_of_three(temp.path(), secret);
    app.admin = Some(app.login("admin"));
    let instances = names(3);
    let sku = (1..=40)
        .map(|n| format!("EPI-{n:04}"))
        .find(|sku| {
            let sku = Sku::parse(sku).expect("valid sku");
            owner(&product_key(&sku), &instances) == Some("magasin-2")
        })
        .expect("a demo product held by magasin-2");
    let on_hand = |app: &TestApp| {
        let stock = app.get(&format!("/api/v1/logistics/stock?q={sku}"));
        assert_eq!(stock.status, 200, "{:?}", stock.body);
        stock.body["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["sku"] == sku.as_str()))
            .and_then(|line| line["on_hand"].as_i64())
            .expect("the product's central line")
    };
    let before = on_hand(&app);
    // magasin-1 signs a receipt of 5 units, as it would on the wire.
    let one = InternalKeys::new("magasin-1", vec!["magasin-2".into()], Some(secret));
    let path = format!("/internal/v1/central/{sku}");
    let signed = br#"{"op":"receive","receipt":"r-body-1","quantity":5,"by":"admin"}"#;
    let token = one.issue("magasin-2", "POST", &path, signed);
    let send = |path: &str, body: &[u8]| -> (u16, serde_json::Value) {
        let answer = ureq::post(&app.url(path))
            .set("X-Magasin-Cluster", &token)
            .set("Content-Type", "application/json")
            .send_bytes(body);
        match answer {
            Ok(r) => (r.status(), r.into_json().unwrap_or_default()),
            Err(ureq::Error::Status(status, r)) => (status, r.into_json().unwrap_or_default()),
            Err(e) => panic!("{path}: {e}"),
        }
    };
    // The same token with other quantities, or on another query: refused, nothing moves.
    let replayed = br#"{"op":"receive","receipt":"r-body-2","quantity":5000,"by":"admin"}"#;
    for (path, body) in [
        (path.clone(), &replayed[..]),
        (format!("{path}?again=1"), &signed[..]),
    ] {
        let (status, problem) = send(&path, body);
        assert_eq!(status, 401, "{path}: {problem}");
        assert_eq!(problem["code"], "cluster_unauthenticated", "{path}");
    }
    assert_eq!(on_hand(&app), before, "a refused call moves nothing");
    // The call it was signed for goes through.
    let (status, answer) = send(&path, signed);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(on_hand(&app), before + 5);
    // Once: the same token with the same body again is a replay.
    let (status, problem) = send(&path, signed);
    assert_eq!(
        (status, &problem["code"]),
        (401, &serde_json::json!("cluster_unauthenticated"))
    );
    assert_eq!(on_hand(&app), before + 5);
}
