//! What format version 2 wrote (`tests/fixtures/v2/`, written through the API by the last
//! version whose chain snapshot was in version 2: tills, taxes, tenders, and user changes
//! without their author) is still read, record by record and as a whole data directory
//! that starts on this version (its chain snapshot is rewritten in version 3, its users
//! keep their role, store and activity).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::helpers::{TestApp, assert_problem, settings, start};
use magasin::domain::{
    AdjustmentKind, ChainEvent, ChainState, Role, SaleId, SaleRecorded, Sku, StoreEvent,
    StoreState, TaxCode, TenderKind, TillNumber, User, Username,
};
use magasin::persistence::codec::{self, CHAIN_SNAPSHOT_VERSION, STORE_SNAPSHOT_VERSION};
use magasin::persistence::{Backend, Snapshot};
use serde_json::{Value, json};

/// The password version 2 gave `caissier7` when it created them.
const CAISSIER7_PASSWORD: &str = "caisse-sept-2026";
/// The day (America/Toronto) every fixture write was made.
const FIXTURE_DAY: &str = "from=2026-12-04&to=2026-12-04";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2")
}

fn record(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("records").join(name)).expect("a fixture record")
}

fn store_event(store: u32, seq: u32) -> StoreEvent {
    codec::decode_event(&record(&format!("store-{store}-event-{seq:05}.bin")))
        .expect("a v2 store event")
}

fn chain_event(seq: u32) -> ChainEvent {
    codec::decode_event(&record(&format!("chain-event-{seq:05}.bin"))).expect("a v2 chain event")
}

fn sale_event(store: u32, seq: u32) -> SaleRecorded {
    match store_event(store, seq) {
        StoreEvent::SaleRecorded(sale) => sale,
        other => panic!("store {store} event {seq} is a sale, not {other:?}"),
    }
}

fn sku(s: &str) -> Sku {
    Sku::parse(s).expect("a SKU")
}

fn name(raw: &str) -> Username {
    Username::parse(raw).expect("a username")
}

fn till(n: i64) -> TillNumber {
    TillNumber::new(n).expect("a till")
}

/// What a user is allowed: role, store, active.
type Standing = (Role, Option<u32>, bool);

/// The standing of each user, by username.
fn roles<'a>(users: impl Iterator<Item = &'a User>) -> BTreeMap<String, Standing> {
    users
        .map(|u| {
            let store = u.store.map(|s| s.get());
            (u.username.to_string(), (u.role, store, u.active))
        })
        .collect()
}

/// The users as version 2 left them at the snapshot (chain 259), before caissier7 became a
/// manager (chain 260, after it).
fn users_at_the_snapshot() -> BTreeMap<String, Standing> {
    [
        ("admin", (Role::Admin, None, true)),
        ("caissier1", (Role::Cashier, Some(1), true)),
        ("caissier2", (Role::Manager, Some(2), true)),
        ("caissier6", (Role::Cashier, Some(6), false)),
        ("caissier7", (Role::Cashier, Some(1), true)),
        ("gestionnaire1", (Role::Manager, Some(1), true)),
        ("logistique", (Role::Logistics, None, true)),
    ]
    .into_iter()
    .map(|(user, state)| (user.to_owned(), state))
    .collect()
}

#[test]
fn every_version_2_chain_record_decodes_with_its_users_as_written() {
    let bytes = record("chain-snapshot-00259.bin");
    assert_eq!(bytes[0], 2);
    let mut chain = ChainState::decode_snapshot(&bytes).expect("a v2 chain snapshot");
    assert_eq!(chain.stores().count(), 6);
    assert_eq!(chain.products().count(), 240);
    let codes: Vec<&str> = chain.jurisdictions().map(|j| j.code.as_str()).collect();
    assert_eq!(codes, ["ON", "QC"]);
    assert_eq!(roles(chain.users()), users_at_the_snapshot());
    // Version 2 had no token generation and logged no change with its author.
    assert!(
        chain
            .accounts()
            .all(|a| a.generation == 0 && !a.must_change_password)
    );
    assert!(chain.user_log().is_empty());

    // The user events of version 2, in journal order.
    let ChainEvent::UserCreated(created) = chain_event(255) else {
        panic!("255 creates caissier7");
    };
    assert_eq!(
        (created.username.as_str(), created.role, created.active),
        ("caissier7", Role::Cashier, true)
    );
    assert!(created.password_hash.starts_with("$argon2id$"));
    let ChainEvent::UserChanged(promoted) = chain_event(256) else {
        panic!("256 changes caissier2's role");
    };
    assert_eq!(
        roles([&promoted].into_iter())["caissier2"],
        (Role::Manager, Some(2), true)
    );
    assert_eq!(
        [chain_event(257), chain_event(258)],
        [
            ChainEvent::UserDeactivated(name("caissier6")),
            ChainEvent::UserDeactivated(name("caissier7"))
        ]
    );
    let ChainEvent::UserChanged(reactivated) = chain_event(259) else {
        panic!("259 reactivates caissier7");
    };
    assert!(reactivated.active);
    // The snapshot at 259 holds caissier7 as event 259 left them, password hash included.
    assert_eq!(chain.user(&name("caissier7")), Some(&reactivated));
    assert_eq!(reactivated.password_hash, created.password_hash);

    // Event 260 came after the snapshot: replayed over it, caissier7 becomes a manager.
    let later = chain_event(260);
    assert!(matches!(&later, ChainEvent::UserChanged(u) if u.username == name("caissier7")));
    chain.apply(&later);
    let mut expected = users_at_the_snapshot();
    expected.insert("caissier7".into(), (Role::Manager, Some(1), true));
    assert_eq!(roles(chain.users()), expected);
    assert!(chain.user_log().is_empty());

    // Its next snapshot is of the current version, and reads back the same.
    let again = chain.encode_snapshot().expect("encodes");
    assert_eq!(again[0], CHAIN_SNAPSHOT_VERSION);
    assert_eq!(ChainState::decode_snapshot(&again).expect("current"), chain);
}

#[test]
fn every_version_2_store_record_decodes_to_what_was_written() {
    let StoreEvent::SessionOpened(opened) = store_event(1, 243) else {
        panic!("243 opens till 1");
    };
    assert_eq!(
        (opened.till, opened.session.number, opened.session.float.0),
        (till(1), 1, 20000)
    );

    // Sale 1: a taxable line (GST, QST) and a zero-rated one, paid cash with change.
    let one = sale_event(1, 244);
    let sale = &one.sale;
    assert_eq!(
        (sale.id, sale.subtotal.0, sale.total.0),
        (SaleId(1), 2807, 2871)
    );
    let taxes: Vec<(TaxCode, i64, i64)> = sale
        .taxes
        .iter()
        .map(|t| (t.code, t.base_cents, t.amount_cents))
        .collect();
    assert_eq!(taxes, [(TaxCode::Gst, 429, 21), (TaxCode::Qst, 429, 43)]);
    assert_eq!((sale.cash_rounding.0, sale.change.0), (-1, 2130));
    let tender = &sale.tenders[0];
    assert_eq!(
        (tender.kind, tender.amount.0, tender.given.0),
        (TenderKind::Cash, 2870, 5000)
    );
    let at = sale.till.expect("a till sale");
    assert_eq!(
        (at.till, at.session, at.receipt.to_string()),
        (till(1), 1, "1-01-000001".to_owned())
    );
    assert_eq!(sale.lines[1].sku, sku("EPI-0001"));
    assert_eq!(sale.lines[1].quantity, 2);
    assert_eq!(sale.by.to_string(), "caissier1");
    assert_eq!(
        one.key.map(|k| k.key.as_str().to_owned()).as_deref(),
        Some("fx2-s1")
    );

    // Sale 2 by card, with the terminal's reference; sale 3 card and cash; sale 4 outside
    // a till, paid by `other`.
    let two = sale_event(1, 245).sale;
    assert_eq!(two.total.0, 2089);
    assert_eq!(
        (two.tenders[0].kind, two.tenders[0].reference.as_deref()),
        (TenderKind::Card, Some("TPE-000421"))
    );
    let three = sale_event(1, 246).sale;
    let tenders: Vec<(TenderKind, i64, i64)> = three
        .tenders
        .iter()
        .map(|t| (t.kind, t.amount.0, t.given.0))
        .collect();
    assert_eq!(
        tenders,
        [(TenderKind::Card, 500, 500), (TenderKind::Cash, 460, 1000)]
    );
    let four = sale_event(1, 247).sale;
    assert!(four.till.is_none());
    assert_eq!(
        (four.tenders[0].kind, four.total.0),
        (TenderKind::Other, 818)
    );

    let StoreEvent::SaleReturned(ret) = store_event(1, 248) else {
        panic!("248 is return 1");
    };
    assert_eq!(
        (ret.ret.id.0, ret.ret.sale_id, ret.ret.refund.0),
        (1, SaleId(1), 495)
    );
    assert_eq!(ret.ret.reason.as_deref(), Some("défectueux"));
    assert_eq!(ret.ret.tenders[0].kind, TenderKind::Cash);
    let StoreEvent::SaleReturned(ret) = store_event(1, 249) else {
        panic!("249 is return 2");
    };
    assert_eq!(
        (ret.ret.sale_id, ret.ret.refund.0, ret.ret.tenders[0].kind),
        (SaleId(2), 206, TenderKind::Card)
    );
    let StoreEvent::StockAdjusted(adjusted) = store_event(1, 250) else {
        panic!("250 is adjustment 3");
    };
    assert_eq!(adjusted.adjustment.id.0, 3);
    let lines: Vec<(AdjustmentKind, u32)> = adjusted
        .adjustment
        .lines
        .iter()
        .map(|l| (l.kind, l.on_hand_after))
        .collect();
    assert_eq!(
        lines,
        [
            (AdjustmentKind::Delta(-2), 52),
            (AdjustmentKind::Count(30), 30)
        ]
    );

    let StoreEvent::SessionClosed(closed) = store_event(1, 251) else {
        panic!("251 closes till 1");
    };
    let closing = closed.report.closing.as_ref().expect("a Z report");
    assert_eq!(
        (
            closing.z_number,
            closing.count.counted.0,
            closing.over_short
        ),
        (1, 22830, -5)
    );
    assert_eq!(
        closing.count.reason.as_deref(),
        Some("pièce de 5 ¢ manquante")
    );
    assert_eq!(
        (closed.report.totals.sales, closed.report.totals.total),
        (3, 5918)
    );
    assert_eq!(closed.report.cash_expected, 22835);
    assert!(matches!(store_event(1, 252), StoreEvent::SessionOpened(o) if o.till == till(2)));
    let five = sale_event(1, 253).sale;
    let six = sale_event(1, 254).sale;
    let receipts: Vec<String> = [&five, &six]
        .iter()
        .map(|s| s.till.expect("at till 2").receipt.to_string())
        .collect();
    assert_eq!(receipts, ["1-02-000001", "1-02-000002"]);
    assert_eq!((five.total.0, six.total.0), (894, 987));

    // Ottawa: HST alone.
    let ottawa = sale_event(6, 243).sale;
    let taxes: Vec<(TaxCode, i64)> = ottawa
        .taxes
        .iter()
        .map(|t| (t.code, t.amount_cents))
        .collect();
    assert_eq!(taxes, [(TaxCode::Hst, 106)]);
    assert_eq!(ottawa.total.0, 2114);

    // Store 1's snapshot at 253: till 1 closed after receipt 5, till 2 open with sale 5.
    let bytes = record("store-1-snapshot-00253.bin");
    assert_eq!(bytes[0], 3);
    let mut state = StoreState::decode_snapshot(&bytes).expect("a v2 store snapshot");
    assert_eq!(state.last_sale(), SaleId(5));
    assert!(state.till(till(1)).is_some_and(|t| t.session.is_none()));
    assert_eq!(state.last_receipt(till(1)), 5);
    let open = |state: &StoreState| {
        let session = state.till(till(2)).and_then(|t| t.session.clone());
        session.map(|s| (s.number, s.float.0, s.totals.sales))
    };
    assert_eq!(open(&state), Some((2, 15000, 1)));
    let on_hand = |state: &StoreState, s: &str| state.stock_line(&sku(s)).on_hand;
    assert_eq!(on_hand(&state, "EPI-0024"), 66);
    assert_eq!(on_hand(&state, "EPI-0002"), 52);
    assert_eq!(on_hand(&state, "LAI-0002"), 30);
    let again = state.encode_snapshot().expect("encodes");
    assert_eq!(again[0], STORE_SNAPSHOT_VERSION);
    assert_eq!(StoreState::decode_snapshot(&again).expect("current"), state);
    // Sale 6 came after the snapshot: replayed over it.
    state.apply(&store_event(1, 254));
    assert_eq!(state.last_sale(), SaleId(6));
    assert_eq!(open(&state), Some((2, 15000, 2)));
    assert_eq!(on_hand(&state, "EPI-0024"), 64);
}

fn copy_fixture_data(to: &Path) {
    std::fs::create_dir_all(to).expect("a data dir");
    for name in [
        "journal.sqlite3",
        "journal.sqlite3-wal",
        "history.sqlite3",
        "history.sqlite3-wal",
    ] {
        std::fs::copy(fixtures().join("data").join(name), to.join(name)).expect("copied");
    }
}

/// What the chain shows of the fixture's writes: users, store 1's sales, returns, Z reports
/// and open till, stock lines, and Ottawa's sale.
fn seen(app: &TestApp) -> Value {
    let sales = app.get("/api/v1/stores/1/sales?per_page=50").body;
    let listed: Vec<Value> = sales["items"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|s| {
            let tenders: Vec<&Value> = s["tenders"]
                .as_array()
                .expect("tenders")
                .iter()
                .map(|t| &t["type"])
                .collect();
            let returns: Vec<&Value> = s["returns"]
                .as_array()
                .expect("returns")
                .iter()
                .map(|r| &r["refund_cents"])
                .collect();
            json!([
                s["id"],
                s["total_cents"],
                s["receipt_number"],
                tenders,
                returns
            ])
        })
        .collect();
    let z = app.get("/api/v1/stores/1/z-reports").body;
    let z_reports: Vec<Value> = z["items"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|r| {
            json!([
                r["z_number"],
                r["till"],
                r["sales_count"],
                r["total_cents"],
                r["counted_cash_cents"],
                r["over_short_cents"],
                r["reason"]
            ])
        })
        .collect();
    let stock: Vec<i64> = ["EPI-0024", "EPI-0001", "EPI-0002", "LAI-0002", "BOI-0004"]
        .iter()
        .map(|s| app.on_hand(1, s))
        .collect();
    let ottawa = app.get("/api/v1/stores/6/sales").body;
    json!({
        "users": app.get("/api/v1/users").body["items"],
        "sales": listed,
        "sales_total": sales["total"],
        "z_reports": z_reports,
        "till_2": open_till_2(app),
        "stock": stock,
        "ottawa": [ottawa["total"], ottawa["items"][0]["total_cents"], ottawa["items"][0]["taxes"]],
    })
}

/// Till 2's open session: (session, sales, total, last receipt), or the problem if closed.
fn open_till_2(app: &TestApp) -> Value {
    let x = app.get("/api/v1/stores/1/tills/2/sessions/current");
    if x.status != 200 {
        return x.body["code"].clone();
    }
    json!([
        x.body["session"],
        x.body["sales_count"],
        x.body["total_cents"],
        x.body["last_receipt"]
    ])
}

fn user(username: &str, role: &str, store: Option<u32>, active: bool) -> Value {
    json!({"username": username, "role": role, "store_id": store, "active": active,
           "must_change_password": false})
}

/// Users and their states that no upgrade may change: the deactivated one refused, the role
/// changes kept, the created one signing in with the password version 2 hashed.
fn check_users(app: &TestApp) {
    let refused = app.post_anonymous(
        "/api/v1/auth/login",
        &json!({"username": "caissier6", "password": "demo"}),
    );
    assert_problem(&refused, 401, "invalid_credentials");
    let caissier7 = app.login_as("caissier7", CAISSIER7_PASSWORD);
    let report = format!("/api/v1/reports/sales?store_id=1&{FIXTURE_DAY}");
    assert_eq!(
        app.get_as(Some(&caissier7), &report).status,
        200,
        "caissier7 is a manager of store 1"
    );
    let caissier2 = app.login("caissier2");
    assert_eq!(
        app.get_as(Some(&caissier2), "/api/v1/stores/2/ledger")
            .status,
        200,
        "caissier2 is a manager of store 2"
    );
}

#[test]
fn a_version_2_data_directory_starts_with_its_users_tills_and_sales() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    copy_fixture_data(&data);
    let app = start(settings(&data, Backend::Sqlite, true));
    let before = seen(&app);
    assert_eq!(
        before["users"],
        json!([
            user("admin", "admin", None, true),
            user("caissier1", "cashier", Some(1), true),
            user("caissier2", "manager", Some(2), true),
            user("caissier6", "cashier", Some(6), false),
            user("caissier7", "manager", Some(1), true),
            user("gestionnaire1", "manager", Some(1), true),
            user("logistique", "logistics", None, true),
        ])
    );
    // Every acknowledged sale, newest first (sale 6 was after the snapshot, before the kill).
    assert_eq!(before["sales_total"], 6);
    assert_eq!(
        before["sales"],
        json!([
            [6, 987, "1-02-000002", ["card"], []],
            [5, 894, "1-02-000001", ["cash"], []],
            [4, 818, null, ["other"], []],
            [3, 958, "1-01-000003", ["card", "cash"], []],
            [2, 2089, "1-01-000002", ["card"], [206]],
            [1, 2871, "1-01-000001", ["cash"], [495]],
        ])
    );
    assert_eq!(
        before["z_reports"],
        json!([[1, 1, 3, 5918, 22830, -5, "pièce de 5 ¢ manquante"]])
    );
    assert_eq!(before["till_2"], json!([2, 2, 894 + 987, 2]));
    assert_eq!(before["stock"], json!([64, 100, 52, 30, 22]));
    assert_eq!(
        before["ottawa"],
        json!([1, 2114, [{"code": "HST", "rate": "13", "base_cents": 819, "amount_cents": 106}]])
    );
    let report = app.get(&format!("/api/v1/reports/sales?store_id=1&{FIXTURE_DAY}"));
    // The sales report counts before taxes: the subtotals sold and refunded.
    let totals = &report.body["totals"];
    assert_eq!(
        json!([
            totals["sales_count"],
            totals["units"],
            totals["revenue_cents"],
            totals["refunds_cents"]
        ]),
        json!([6, 15, 2807 + 1817 + 958 + 818 + 777 + 858, 429 + 179]),
        "{totals}"
    );
    check_users(&app);
    // Version 2 logged no change with its author: the log starts with this version.
    let changes = app.get("/api/v1/user-changes").body;
    assert_eq!(changes["total"], 0, "{changes}");

    // New writes go on after version 2's: sale 7 on till 2's open session, return 3,
    // till 2's Z report 2, a user, and a return beyond the sale refused.
    let cashier = app.login("caissier1");
    let sold = app.post_as_with_key(
        Some(&cashier),
        "/api/v1/stores/1/sales",
        "fx2-after-s7",
        &json!({"till": 2, "lines": [{"sku": "EPI-0003", "quantity": 1}],
                "tenders": [{"type": "cash", "amount_cents": 500}]}),
    );
    assert_eq!(sold.status, 201, "{:?}", sold.body);
    assert_eq!(
        (&sold.body["id"], &sold.body["receipt_number"]),
        (&json!(7), &json!("1-02-000003"))
    );
    let back = |sku: &str| {
        app.post_as_with_key(
            Some(&cashier),
            "/api/v1/stores/1/sales/1/returns",
            &format!("fx2-after-r-{sku}"),
            &json!({"lines": [{"sku": sku, "quantity": 1}], "till": 2}),
        )
    };
    assert_problem(&back("EPI-0024"), 409, "return_exceeds_sale");
    let returned = back("EPI-0001");
    assert_eq!(returned.status, 201, "{:?}", returned.body);
    assert_eq!(returned.body["id"], 3, "return ids go on after version 2's");
    let x = app.get("/api/v1/stores/1/tills/2/sessions/current").body;
    let closed = app.post_as_with_key(
        Some(&cashier),
        "/api/v1/stores/1/tills/2/sessions/current/close",
        "fx2-after-z2",
        &json!({"counted_cash_cents": x["cash_expected_cents"]}),
    );
    assert_eq!(closed.status, 201, "{:?}", closed.body);
    assert_eq!(
        (&closed.body["z_number"], &closed.body["sales_count"]),
        (&json!(2), &json!(3))
    );
    let created = app.post(
        "/api/v1/users",
        &json!({"username": "caissier8", "password": "caisse-huit-2026", "role": "cashier",
                "store_id": 1}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let after = seen(&app);
    assert_eq!(after["sales_total"], 7);
    app.stop();

    // A graceful stop wrote the chain's snapshot in version 3 and store 1's past sale 7;
    // the next start reads them, and shows the same.
    let journal = rusqlite::Connection::open(data.join("journal.sqlite3")).expect("opens");
    let snapshot = |stream: &str| -> (i64, Vec<u8>) {
        journal
            .query_row(
                "SELECT seq, substr(payload, 1, 1) FROM snapshots WHERE stream = ?1",
                [stream],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .expect("a snapshot")
    };
    let (chain_seq, chain_version) = snapshot("chain");
    assert!(chain_seq > 260, "chain snapshot at {chain_seq}");
    assert_eq!(chain_version, vec![CHAIN_SNAPSHOT_VERSION]);
    let (store_seq, store_version) = snapshot("store/1");
    assert!(store_seq > 254, "store 1 snapshot at {store_seq}");
    assert_eq!(store_version, vec![STORE_SNAPSHOT_VERSION]);
    drop(journal);

    let app = start(settings(&data, Backend::Sqlite, true));
    assert_eq!(seen(&app), after);
    check_users(&app);
    app.login_as("caissier8", "caisse-huit-2026");
    let changes = app.get("/api/v1/user-changes").body;
    assert_eq!(changes["total"], 1, "{changes}");
    assert_eq!(
        (&changes["items"][0]["username"], &changes["items"][0]["by"]),
        (&json!("caissier8"), &json!("admin"))
    );
    assert_problem(&back_again(&app), 409, "return_exceeds_sale");
    let cashier = app.login("caissier1");
    let sold = app.post_as_with_key(
        Some(&cashier),
        "/api/v1/stores/1/sales",
        "fx2-after-s8",
        &json!({"lines": [{"sku": "EPI-0003", "quantity": 1}]}),
    );
    assert_eq!(sold.body["id"], 8, "{:?}", sold.body);
    app.stop();
}

/// Sale 1 sold 2 × EPI-0001 and one came back before the restart: two more are refused.
fn back_again(app: &TestApp) -> crate::helpers::Reply {
    app.post_with_key(
        "/api/v1/stores/1/sales/1/returns",
        "fx2-after-again",
        &json!({"lines": [{"sku": "EPI-0001", "quantity": 2}]}),
    )
}
