//! The login throttle on the local cluster (HAProxy and three instances on loopback, each
//! client at its own loopback address): five wrong passwords for `caissier1` from one
//! address refuse that address (429 with Retry-After), whichever instance served each try,
//! while `caissier1` at another address signs in; an `X-Forwarded-For` sent straight to an
//! instance from an address that is not HAProxy's is ignored (ADR 0026).

use reqwest::blocking::Client;
use serde_json::{Value, json};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::cluster_local::{free_ports, start};

/// (status, Retry-After, body) of a login of `caissier1`.
fn login(
    client: &Client,
    base: &str,
    password: &str,
    spoof: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut request = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "caissier1", "password": password}));
    if let Some(spoof) = spoof {
        request = request.header("X-Forwarded-For", spoof);
    }
    let response = request.send().expect("an answer");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, retry_after, response.json().unwrap_or(Value::Null))
}

fn address(raw: &str) -> IpAddr {
    raw.parse().expect("an address")
}

#[test]
fn five_failures_from_one_address_lock_it_out_on_every_instance_while_the_user_signs_in_elsewhere()
{
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = start(dir.path(), free_ports());
    let intruder = cluster.client_from(address("127.0.0.2"));
    let instances = ["magasin-1", "magasin-2", "magasin-3"].map(|n| cluster.instance_base(n));

    // Two tries through HAProxy, then one straight to each instance: one count for all.
    let mut tries = vec![cluster.base.clone(), cluster.base.clone()];
    tries.extend(instances.iter().cloned());
    for (n, base) in tries.iter().enumerate() {
        let (status, retry_after, body) = login(&intruder, base, "mauvais", None);
        assert_eq!(
            (status, retry_after),
            (401, None),
            "try {n} at {base}: {body}"
        );
    }
    // The sixth, with the right password, is refused wherever it goes.
    for base in std::iter::once(&cluster.base).chain(instances.iter()) {
        let (status, retry_after, body) = login(&intruder, base, "demo", None);
        assert_eq!(
            (status, body["code"].as_str()),
            (429, Some("too_many_attempts")),
            "{base}: {body}"
        );
        let wait: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
        assert!(wait > 14 * 60 && wait <= 15 * 60, "Retry-After {wait}");
    }

    // The till, at its own address, signs in (slowed by the failures elsewhere).
    let till = cluster.client_from(address("127.0.0.3"));
    let started = Instant::now();
    let (status, _, body) = login(&till, &cluster.base, "demo", None);
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "slowed, not refused"
    );

    // Straight to an instance from an address that is not HAProxy's, X-Forwarded-For naming
    // the locked address is ignored: the client is who connected.
    let stranger = cluster.client_from(address("127.0.0.4"));
    for base in &instances {
        let (status, _, body) = login(&stranger, base, "demo", Some("127.0.0.2"));
        assert_eq!(status, 200, "{base}: {body}");
    }
    // And through HAProxy a client's own X-Forwarded-For is replaced by its address.
    let (status, _, _) = login(&stranger, &cluster.base, "demo", Some("127.0.0.2"));
    assert_eq!(status, 200);
    let (status, _, _) = login(&intruder, &cluster.base, "demo", Some("127.0.0.9"));
    assert_eq!(
        status, 429,
        "the intruder cannot name another address through HAProxy"
    );
    cluster.stop();
}
