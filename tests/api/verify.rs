//! `magasin verify` on real data directories, on both backends: after sales, returns and a
//! compaction (events moved to the archive) every chain is whole; then one byte of one
//! event changed in the database file, one event deleted, two events swapped: each time
//! verify names the store's stream and the sequence number where its chain breaks, and
//! exits non-zero.

use std::path::Path;
use std::process::Command;

use crate::helpers::{settings, start};
use magasin::persistence::Backend;
use serde_json::json;

const STREAM: &str = "store/1";

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Sled => "sled",
    }
}

/// Runs `magasin <command> --data-dir DIR --backend B`: (exit code, stdout).
fn run(command: &str, backend: Backend, dir: &Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_magasin"))
        .args([command, "--backend", backend_name(backend), "--data-dir"])
        .arg(dir)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.code().is_some(),
        "{command} was killed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), stdout)
}

/// Three sales and a return at store 1, through the API.
fn sell_and_return(dir: &Path, backend: Backend, round: u32) {
    let app = start(settings(dir, backend, true));
    for n in 0..3 {
        let sale = app.sell(
            1,
            &format!("verify-{round}-{n}"),
            &json!({"lines": [{"sku": "EPI-0001", "quantity": 1}, {"sku": "EPI-0002", "quantity": 2}]}),
        );
        assert_eq!(sale.status, 201, "{:?}", sale.body);
        if n == 0 {
            let id = sale.body["id"].as_u64().expect("a sale id");
            let ret = app.post_with_key(
                &format!("/api/v1/stores/1/sales/{id}/returns"),
                &format!("verify-return-{round}"),
                &json!({"lines": [{"sku": "EPI-0002", "quantity": 1}]}),
            );
            assert_eq!(ret.status, 201, "{:?}", ret.body);
        }
    }
    app.stop();
}

/// The line `verify` printed for store 1.
fn store_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{STREAM}:")))
        .unwrap_or_else(|| panic!("no line for {STREAM} in:\n{stdout}"))
}

/// What each drill does to the event at `seq` (and the one after it).
#[derive(Clone, Copy, Debug)]
enum Tamper {
    ChangeOneByte,
    Delete,
    SwapWithNext,
}

fn sqlite_tamper(dir: &Path, tamper: Tamper, seq: u64) {
    let db = rusqlite::Connection::open(dir.join("journal.sqlite3")).expect("opens");
    let seq = i64::try_from(seq).expect("fits");
    let row = |seq: i64| -> (Vec<u8>, Vec<u8>) {
        db.query_row(
            "SELECT payload, hash FROM events WHERE stream = ?1 AND seq = ?2",
            rusqlite::params![STREAM, seq],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the event is in the journal")
    };
    let set = |seq: i64, (payload, hash): &(Vec<u8>, Vec<u8>)| {
        db.execute(
            "UPDATE events SET payload = ?3, hash = ?4 WHERE stream = ?1 AND seq = ?2",
            rusqlite::params![STREAM, seq, payload, hash],
        )
        .expect("updates");
    };
    match tamper {
        Tamper::ChangeOneByte => {
            let (mut payload, hash) = row(seq);
            let last = payload.len() - 1;
            payload[last] ^= 0x01;
            set(seq, &(payload, hash));
        }
        Tamper::Delete => {
            db.execute(
                "DELETE FROM events WHERE stream = ?1 AND seq = ?2",
                rusqlite::params![STREAM, seq],
            )
            .expect("deletes");
        }
        Tamper::SwapWithNext => {
            let (this, next) = (row(seq), row(seq + 1));
            set(seq, &next);
            set(seq + 1, &this);
        }
    }
}

fn sled_key(tag: u8, seq: u64) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend_from_slice(STREAM.as_bytes());
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn sled_tamper(dir: &Path, tamper: Tamper, seq: u64) {
    let db = sled::open(dir.join("journal.sled")).expect("opens");
    let get = |tag: u8, seq: u64| db.get(sled_key(tag, seq)).expect("reads").expect("present");
    match tamper {
        Tamper::ChangeOneByte => {
            let mut payload = get(b'e', seq).to_vec();
            let last = payload.len() - 1;
            payload[last] ^= 0x01;
            db.insert(sled_key(b'e', seq), payload).expect("writes");
        }
        Tamper::Delete => {
            db.remove(sled_key(b'e', seq)).expect("removes");
            db.remove(sled_key(b'h', seq)).expect("removes");
        }
        Tamper::SwapWithNext => {
            for tag in [b'e', b'h'] {
                let (this, next) = (get(tag, seq), get(tag, seq + 1));
                db.insert(sled_key(tag, seq), next).expect("writes");
                db.insert(sled_key(tag, seq + 1), this).expect("writes");
            }
        }
    }
    db.flush().expect("flushes");
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(status.success());
}

fn drill(backend: Backend) {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("data");
    sell_and_return(&dir, backend, 1);
    let (code, stdout) = run("compact", backend, &dir);
    assert_eq!(code, 0, "{stdout}");
    assert!(dir.join("archive").exists(), "events were archived");
    sell_and_return(&dir, backend, 2);

    let (code, stdout) = run("verify", backend, &dir);
    assert_eq!(code, 0, "{stdout}");
    let whole = store_line(&stdout);
    let checked: u64 = whole
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("events checked in {whole:?}"));
    assert!(whole.contains("head "), "{whole}");
    println!("{} whole: {whole}", backend_name(backend));
    // The last sale and return of the second round are in the journal; the first round's
    // in the archive. Tamper with the journal's third event from the end.
    let target = checked - 2;
    for tamper in [Tamper::ChangeOneByte, Tamper::Delete, Tamper::SwapWithNext] {
        let copy = temp.path().join(format!("{tamper:?}"));
        copy_dir(&dir, &copy);
        match backend {
            Backend::Sqlite => sqlite_tamper(&copy, tamper, target),
            Backend::Sled => sled_tamper(&copy, tamper, target),
        }
        let (code, stdout) = run("verify", backend, &copy);
        let line = store_line(&stdout);
        println!("{} {tamper:?}: {line}", backend_name(backend));
        assert_eq!(code, 1, "{stdout}");
        assert!(
            line.contains(&format!("the chain breaks at event {target}:")),
            "{tamper:?}: {line}"
        );
        let others_whole = stdout
            .lines()
            .filter(|l| l.starts_with("store/") && !l.starts_with(&format!("{STREAM}:")))
            .all(|l| !l.contains("breaks"));
        assert!(others_whole, "{stdout}");
    }
}

#[test]
fn sqlite_verify_passes_then_names_the_changed_deleted_or_swapped_event() {
    drill(Backend::Sqlite);
}

#[test]
fn sled_verify_passes_then_names_the_changed_deleted_or_swapped_event() {
    drill(Backend::Sled);
}

/// A data directory written by the previous format (`tests/fixtures/v2`, before events had
/// hashes): this version seals it once and verifies it, before and after it adds events.
#[test]
fn a_data_directory_written_before_the_chain_verifies_on_this_version() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2/data");
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("data");
    copy_dir(&fixture, &dir);
    let (code, stdout) = run("verify", Backend::Sqlite, &dir);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        store_line(&stdout).starts_with("store/1: 254 events checked, head "),
        "{stdout}"
    );
    sell_and_return(&dir, Backend::Sqlite, 1);
    let (code, stdout) = run("verify", Backend::Sqlite, &dir);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        store_line(&stdout).starts_with("store/1: 258 events checked, head "),
        "{stdout}"
    );
}

/// What a Z report's seal signs: `{"chain", "report"}`, the report without its seal and
/// its late addendum (ADR 0027).
fn signed_content(z: &serde_json::Value) -> serde_json::Value {
    let seal = &z["seal"];
    let mut report = z.clone();
    let fields = report.as_object_mut().expect("an object");
    fields.remove("seal");
    fields.remove("late_addendum");
    json!({
        "chain": {"stream": seal["stream"], "seq": seal["seq"], "head": seal["head"]},
        "report": report,
    })
}

#[test]
fn a_z_report_names_its_chain_head_and_its_signature_verifies_with_the_published_key() {
    let app = crate::helpers::spawn_app();
    let token = app.login("caissier1");
    let sessions = "/api/v1/stores/1/tills/1/sessions";
    let opened = app.post_as(Some(&token), sessions, &json!({"float_cents": 10_000}));
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    assert!(opened.body.get("seal").is_none(), "an X report has no seal");
    let sale = app.post_as_with_key(
        Some(&token),
        "/api/v1/stores/1/sales",
        "z-seal-1",
        &json!({"till": 1, "lines": [{"sku": "EPI-0024", "quantity": 1}],
                "tenders": [{"type": "card", "amount_cents": 100_000}]}),
    );
    assert_eq!(sale.status, 422, "a card pays exactly: {:?}", sale.body);
    let sale = app.post_as_with_key(
        Some(&token),
        "/api/v1/stores/1/sales",
        "z-seal-2",
        &json!({"till": 1, "lines": [{"sku": "LAI-0001", "quantity": 1}],
                "tenders": [{"type": "cash", "amount_cents": 10_000}]}),
    );
    assert_eq!(sale.status, 201, "{:?}", sale.body);
    let expected = sale.body["paid_cents"].as_i64().expect("paid") + 10_000;
    let closed = app.post_as(
        Some(&token),
        &format!("{sessions}/current/close"),
        &json!({"counted_cash_cents": expected}),
    );
    assert_eq!(closed.status, 201, "{:?}", closed.body);
    let z = closed.body;
    let seal = &z["seal"];
    assert_eq!(seal["stream"], "store/1");
    // Published to anyone, without a token.
    let key: serde_json::Value = ureq::get(&app.url("/api/v1/audit/public-key"))
        .call()
        .expect("the key is public")
        .into_json()
        .expect("json");
    assert_eq!(key["algorithm"], "Ed25519");
    let public = key["public_key"].as_str().expect("a key");
    assert_eq!(seal["public_key"], public);
    let signature = seal["signature"].as_str().expect("a signature");
    assert!(magasin::auth::seal::verify(
        public,
        &signed_content(&z),
        signature
    ));

    // The same Z report read back later carries the same seal.
    let listed = app.get_as(Some(&token), "/api/v1/stores/1/z-reports");
    assert_eq!(listed.body["items"][0]["seal"], z["seal"]);

    // An edited copy does not verify: a total, the head, the sequence number.
    for (path, value) in [
        (
            "/report/net_cents",
            json!(z["net_cents"].as_i64().expect("net") + 100),
        ),
        ("/chain/head", json!("00".repeat(32))),
        ("/chain/seq", json!(seal["seq"].as_u64().expect("seq") - 1)),
    ] {
        let mut edited = signed_content(&z);
        *edited.pointer_mut(path).expect("a field") = value;
        assert!(
            !magasin::auth::seal::verify(public, &edited, signature),
            "{path}"
        );
    }

    // The head is the store's chain at that event, as the administrators' check reads it.
    let verified = app.get("/api/v1/stores/1/verify");
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    assert_eq!(verified.body["broken"], serde_json::Value::Null);
    assert_eq!(verified.body["events_checked"], seal["seq"]);
    assert_eq!(verified.body["head"], seal["head"]);
    let manager = app.login("gestionnaire1");
    let refused = app.get_as(Some(&manager), "/api/v1/stores/1/verify");
    assert_eq!(refused.status, 403);
}
