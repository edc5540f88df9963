//! The edge (ADR 0025): HAProxy of the local cluster speaks TLS 1.2 and 1.3 only with
//! Mozilla's "intermediate" ciphers (as sslscan sees it), sends HSTS, answers plain HTTP
//! with a redirect to HTTPS, and refuses a client address over its rate with 429 and
//! `Retry-After` while another address is served. The single binary given a certificate
//! serves HTTPS itself, and nothing over plain HTTP.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::cluster_local::{free_ports, https_client, start, start_with};
use crate::helpers::free_port;
use crate::process;

/// Mozilla's intermediate configuration (guidelines 6.0), as OpenSSL names them: the TLS
/// 1.2 ciphers, then the TLS 1.3 suites.
const INTERMEDIATE: [&str; 9] = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// What sslscan said about one server.
#[derive(Debug, Default)]
struct Scan {
    /// "SSLv3" → enabled?
    protocols: Vec<(String, bool)>,
    /// (protocol, bits, cipher) of every cipher the server accepted.
    ciphers: Vec<(String, u32, String)>,
}

/// Runs sslscan against `target` (host:port) and reads its protocol and cipher lists.
/// sslscan is required: scripts/test.sh installs it, and its absence fails the test.
fn sslscan(target: &str) -> (Scan, String) {
    let output = Command::new("sslscan")
        .args(["--no-colour", target])
        .output()
        .unwrap_or_else(|e| {
            panic!("sslscan cannot run ({e}): apt-get install sslscan (scripts/test.sh does)")
        });
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "sslscan failed:\n{text}");
    let mut scan = Scan::default();
    let mut section = "";
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.ends_with(':') {
            section = match trimmed {
                "SSL/TLS Protocols:" => "protocols",
                "Supported Server Cipher(s):" => "ciphers",
                _ => "",
            };
            continue;
        }
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        match (section, words.as_slice()) {
            ("protocols", [protocol, state]) => {
                scan.protocols
                    .push(((*protocol).to_owned(), *state == "enabled"));
            }
            ("ciphers", [verdict, protocol, bits, "bits", cipher, ..])
                if matches!(*verdict, "Accepted" | "Preferred") =>
            {
                let bits = bits.parse().unwrap_or_else(|_| panic!("bits in {line:?}"));
                scan.ciphers
                    .push(((*protocol).to_owned(), bits, (*cipher).to_owned()));
            }
            _ => {}
        }
    }
    (scan, text)
}

#[test]
fn haproxy_speaks_modern_tls_only_sends_hsts_and_redirects_plain_http() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let cluster = start(temp.path(), free_ports());

    let (scan, text) = sslscan(&format!("127.0.0.1:{}", cluster.port));
    let enabled: BTreeSet<&str> = scan
        .protocols
        .iter()
        .filter(|(_, on)| *on)
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        enabled,
        BTreeSet::from(["TLSv1.2", "TLSv1.3"]),
        "protocols:\n{text}"
    );
    for old in ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"] {
        assert!(
            scan.protocols.iter().any(|(p, on)| p == old && !on),
            "sslscan does not say {old} is disabled:\n{text}"
        );
    }
    assert!(!scan.ciphers.is_empty(), "no cipher read:\n{text}");
    for (protocol, bits, cipher) in &scan.ciphers {
        assert!(
            INTERMEDIATE.contains(&cipher.as_str()),
            "{protocol} {cipher} is not in Mozilla's intermediate list:\n{text}"
        );
        assert!(*bits >= 128, "{protocol} {cipher} has {bits} bits:\n{text}");
    }
    // Both versions offer ciphers: TLS 1.3's suites and TLS 1.2's forward-secret AEAD.
    for protocol in ["TLSv1.2", "TLSv1.3"] {
        assert!(
            scan.ciphers.iter().any(|(p, _, _)| p == protocol),
            "no {protocol} cipher:\n{text}"
        );
    }
    assert!(
        !text.contains("Insecure session renegotiation supported"),
        "{text}"
    );

    // HSTS over HTTPS, on the instances' answers and on HAProxy's own.
    let client = cluster.client();
    for path in ["/health/ready", "/internal/v1/chain/events?after=0"] {
        let answer = client
            .get(format!("{}{path}", cluster.base))
            .send()
            .expect("an HTTPS answer");
        let hsts = answer
            .headers()
            .get("Strict-Transport-Security")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let max_age: u64 = hsts
            .strip_prefix("max-age=")
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{path}: Strict-Transport-Security {hsts:?}"));
        assert!(max_age >= 31_536_000, "{path}: a year at least: {hsts}");
    }

    // Plain HTTP answers only with a redirect to the same URL over HTTPS.
    let plain = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    let path = "/api/v1/products?q=lait&per_page=2";
    let answer = plain
        .get(format!("{}{path}", cluster.plain_base()))
        .send()
        .expect("a plain HTTP answer");
    let status = answer.status().as_u16();
    let location = answer
        .headers()
        .get("Location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(matches!(status, 301 | 308), "{status}");
    assert_eq!(location, format!("{}{path}", cluster.base));
    let followed = client.get(location).send().expect("an HTTPS answer");
    assert_eq!(followed.status().as_u16(), 401, "the API, over HTTPS");
    cluster.stop();
}

/// `n` reads from `client`, each answered: (status, Retry-After, Content-Type, body).
fn reads(client: &Client, url: &str, n: usize) -> Vec<(u16, Option<String>, String, Value)> {
    (0..n)
        .map(|_| {
            let answer = client.get(url).send().expect("an answer");
            let header = |name: &str| {
                answer
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let (retry, kind) = (header("Retry-After"), header("Content-Type"));
            (
                answer.status().as_u16(),
                retry,
                kind.unwrap_or_default(),
                answer.json().unwrap_or(Value::Null),
            )
        })
        .collect()
}

#[test]
fn haproxy_refuses_a_client_over_its_rate_and_serves_another() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let cluster = start_with(
        temp.path(),
        free_ports(),
        &[
            ("HAPROXY_RATE_READS", "10"),
            ("HAPROXY_RATE_WRITES", "5"),
            ("HAPROXY_RATE_LOGINS", "3"),
        ],
    );
    let loopback = |last: u8| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
    let (greedy, other) = (
        cluster.client_from(loopback(2)),
        cluster.client_from(loopback(3)),
    );
    let url = format!("{}/health/live", cluster.base);

    // Ten reads in ten seconds are allowed; the ones after are refused, as problem+json.
    let answers = reads(&greedy, &url, 14);
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(&statuses[..10], [200; 10], "{statuses:?}");
    assert_eq!(&statuses[10..], [429; 4], "{statuses:?}");
    let (_, retry, kind, body) = &answers[13];
    let retry: u64 = retry
        .as_deref()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in seconds: {retry:?}"));
    assert!((1..=10).contains(&retry), "Retry-After {retry}");
    assert_eq!(kind, "application/problem+json");
    assert_eq!(body["status"], 429, "{body}");
    assert_eq!(body["code"], "rate_limited", "{body}");
    for field in ["type", "title", "detail"] {
        assert!(
            body[field].as_str().is_some_and(|v| !v.is_empty()),
            "{body}"
        );
    }

    // Another address is served meanwhile, and the refused one still may write: each
    // kind of request has its own rate.
    let statuses: Vec<u16> = reads(&other, &url, 5).iter().map(|a| a.0).collect();
    assert_eq!(statuses, [200; 5]);
    let login = |client: &Client| {
        client
            .post(format!("{}/api/v1/auth/login", cluster.base))
            .json(&json!({"username": "admin", "password": "pas le bon"}))
            .send()
            .expect("an answer")
            .status()
            .as_u16()
    };
    // Logins (password changes too) have the lowest rate: three, then 429, whether the
    // password is right or wrong.
    let statuses: Vec<u16> = (0..4).map(|_| login(&greedy)).collect();
    assert_eq!(statuses, [401, 401, 401, 429]);
    assert_eq!(login(&other), 401, "another address may still try");

    // The refused client is served again once it waits. HAProxy's rate is a sliding
    // estimate over the last two windows, and every try counts: ask every two seconds.
    let deadline = Instant::now() + Duration::from_secs(retry + 15);
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let status = reads(&greedy, &url, 1)[0].0;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} long after Retry-After"
        );
    }
    cluster.stop();
}

/// A `magasin serve` child, killed when dropped (a failing test leaves no server behind).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn self_signed(dir: &Path) {
    let written = Command::new(env!("CARGO_BIN_EXE_magasin"))
        .args(["tls", "self-signed", "--dir"])
        .arg(dir)
        .output()
        .expect("magasin tls runs");
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
}

#[test]
fn the_single_binary_serves_https_with_a_certificate_and_refuses_half_a_setting() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let tls = temp.path().join("tls");
    self_signed(&tls);
    for file in ["ca.pem", "cert.pem", "key.pem", "haproxy.pem"] {
        assert!(tls.join(file).is_file(), "{file} written");
    }

    let port = free_port();
    let server = Command::new(env!("CARGO_BIN_EXE_magasin"))
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(temp.path().join("data"))
        .env_remove("MAGASIN_JWT_SECRET")
        .env_remove("MAGASIN_BOOTSTRAP_ADMIN_PASSWORD")
        .env("MAGASIN_SERVER__TLS__CERT", tls.join("cert.pem"))
        .env("MAGASIN_SERVER__TLS__KEY", tls.join("key.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("magasin serve starts");
    let _server = Server(server);

    // A client that trusts ca.pem is served over HTTPS.
    let client = https_client(&tls.join("ca.pem"), None);
    let ready = format!("https://127.0.0.1:{port}/health/ready");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client.get(&ready).send() {
            Ok(answer) if answer.status().as_u16() == 200 => break,
            other => {
                assert!(Instant::now() < deadline, "not ready over HTTPS: {other:?}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    let localhost = format!("https://localhost:{port}/health/live");
    assert_eq!(
        client
            .get(&localhost)
            .send()
            .map(|a| a.status().as_u16())
            .ok(),
        Some(200),
        "the certificate is valid for localhost too"
    );

    // Plain HTTP gets no answer, and neither does a client that does not trust the CA.
    let plain = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    let answer = plain
        .get(format!("http://127.0.0.1:{port}/health/ready"))
        .send();
    assert!(answer.is_err(), "plain HTTP answered: {answer:?}");
    let stranger = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    let answer = stranger.get(&ready).send();
    assert!(answer.is_err(), "an untrusted certificate was accepted");

    // A certificate without its key is a clear refusal at start, not plain HTTP.
    let mut half = process::command(&temp.path().join("half"));
    half.env("MAGASIN_SERVER__TLS__CERT", tls.join("cert.pem"));
    let stderr = process::refused(half);
    assert!(
        stderr.contains("needs both cert and key"),
        "refused with: {stderr}"
    );
    let mut missing = process::command(&temp.path().join("missing"));
    missing
        .env("MAGASIN_SERVER__TLS__CERT", tls.join("absent.pem"))
        .env("MAGASIN_SERVER__TLS__KEY", tls.join("key.pem"));
    let stderr = process::refused(missing);
    assert!(
        stderr.contains("cannot read the TLS certificate chain") && stderr.contains("absent.pem"),
        "refused with: {stderr}"
    );
}
