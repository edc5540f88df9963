//! The correctness check: stock, sales and ledgers read before and after a pass, against
//! the tool's own tally of what the server acknowledged.
//!
//! For every store and SKU, three accounts must agree:
//! - the tool's: before − units sold + units returned + units received = after, from the
//!   201s it received;
//! - the ledger's: before + the changes of the entries written during the pass = after,
//!   and each entry's balance is the previous balance plus its change;
//! - the sales: as many listed for the pass as distinct keys acknowledged, with the same
//!   ids, and every retry answered with its original sale.
//!
//! Nothing else may write to the server during the pass: another client's sale is a
//! difference here.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

use crate::api::{Api, LedgerEntry};
use crate::world::{AckedSale, Pending, Tally, World};

/// How many ids or lines a problem quotes before it says "and N more".
const QUOTED: usize = 10;

/// The chain as the API shows it at one moment.
pub struct Snapshot {
    pub stock: BTreeMap<(u32, String), u32>,
    /// Position of the last ledger entry of each store.
    pub ledger_end: BTreeMap<u32, u64>,
    pub sales_total: BTreeMap<u32, usize>,
}

impl Snapshot {
    /// Reads every store's stock for every SKU, and where its ledger and sales stand.
    pub async fn take(api: &Api, stores: &[u32], token: &str) -> Result<Self> {
        let mut stock = BTreeMap::new();
        let mut ledger_end = BTreeMap::new();
        let mut sales_total = BTreeMap::new();
        for &store in stores {
            for line in api
                .store_stock(store, token)
                .await
                .with_context(|| format!("reading the stock of store {store}"))?
            {
                stock.insert((store, line.sku), line.on_hand);
            }
            let ledger = api
                .ledger_after(store, 0, token)
                .await
                .with_context(|| format!("reading the ledger of store {store}"))?;
            ledger_end.insert(store, ledger.last().map_or(0, |e| e.seq));
            sales_total.insert(
                store,
                api.sales_total(store, token)
                    .await
                    .with_context(|| format!("counting the sales of store {store}"))?,
            );
        }
        Ok(Self {
            stock,
            ledger_end,
            sales_total,
        })
    }
}

/// What the ledger says moved for one SKU in one store during the pass.
#[derive(Debug, Default, Clone, Copy)]
struct LedgerFlow {
    sold: i64,
    returned: i64,
    received: i64,
    adjusted: i64,
    other: i64,
}

/// Per store: the counts the check compared.
#[derive(Debug, Serialize)]
pub struct StoreCheck {
    pub store: u32,
    pub sales_acknowledged: usize,
    pub sales_listed: usize,
    pub sales_in_ledger: usize,
    pub returns_acknowledged: u64,
    pub returns_in_ledger: usize,
    pub restocks_received: u64,
    pub ledger_entries: usize,
    pub units_sold: u64,
    pub units_returned: u64,
    pub units_received: u64,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub passed: bool,
    pub problems: Vec<String>,
    pub stores: Vec<StoreCheck>,
    pub retries: u64,
    pub retries_matched: u64,
    /// Writes that had no clear answer during the pass, settled by sending them again.
    pub settled: usize,
}

#[derive(Deserialize)]
struct Line {
    sku: String,
    quantity: u32,
}

#[derive(Deserialize)]
struct Sold {
    id: u64,
    lines: Vec<Line>,
}

#[derive(Deserialize)]
struct Returned {
    lines: Vec<Line>,
}

#[derive(Deserialize)]
struct Received {
    lines: Vec<ReceivedLine>,
}

#[derive(Deserialize)]
struct ReceivedLine {
    sku: String,
    received: u32,
}

/// Sends every write that had no clear answer again, with its key (or, for a receipt,
/// to the same request): the server answers from what it did, or does it now, before
/// the "after" snapshot either way. The tally then holds every write that happened.
pub async fn settle(api: &Api, world: &World, token: &str) -> Result<usize> {
    let pending = std::mem::take(&mut world.tally().pending);
    for write in &pending {
        match write {
            Pending::Sale { store, key, body } => {
                let path = format!("/api/v1/stores/{store}/sales");
                let (status, answer) = api.resend(&path, token, Some(key), body).await?;
                if status.is_success() {
                    let sold: Sold = serde_json::from_value(answer)
                        .with_context(|| format!("settling sale {key}"))?;
                    let mut tally = world.tally();
                    for line in &sold.lines {
                        tally.flow(*store, &line.sku).sold += u64::from(line.quantity);
                    }
                    tally.sales.insert(
                        key.clone(),
                        AckedSale {
                            store: *store,
                            id: sold.id,
                        },
                    );
                }
            }
            Pending::Return {
                store,
                sale,
                key,
                body,
            } => {
                let path = format!("/api/v1/stores/{store}/sales/{sale}/returns");
                let (status, answer) = api.resend(&path, token, Some(key), body).await?;
                if status.is_success() {
                    let returned: Returned = serde_json::from_value(answer)
                        .with_context(|| format!("settling return {key}"))?;
                    let mut tally = world.tally();
                    for line in &returned.lines {
                        tally.flow(*store, &line.sku).returned += u64::from(line.quantity);
                    }
                    *tally.returns.entry(*store).or_default() += 1;
                }
            }
            Pending::Receive { store, request } => {
                let path = format!("/api/v1/stores/{store}/restock-requests/{request}/receive");
                let (status, answer) = api
                    .resend(&path, token, None, &Value::Object(Default::default()))
                    .await?;
                if status.is_success() {
                    let received: Received = serde_json::from_value(answer)
                        .with_context(|| format!("settling the receipt of {request}"))?;
                    let mut tally = world.tally();
                    for line in received.lines.iter().filter(|l| l.received > 0) {
                        tally.flow(*store, &line.sku).received += u64::from(line.received);
                    }
                    *tally.receipts.entry(*store).or_default() += 1;
                }
            }
        }
    }
    Ok(pending.len())
}

/// Reads the chain again and compares it with `before` and the tally.
pub async fn verify(
    api: &Api,
    world: &World,
    before: &Snapshot,
    token: &str,
    settled: usize,
) -> Result<CheckReport> {
    let after = Snapshot::take(api, &world.stores, token).await?;
    // A copy: the lock is not held across the reads below.
    let tally = world.tally().clone();
    let mut problems: Vec<String> = tally.violation_lines();
    let mut stores = Vec::new();
    for &store in &world.stores {
        let start = before.ledger_end.get(&store).copied().unwrap_or(0);
        let entries = api
            .ledger_after(store, start, token)
            .await
            .with_context(|| format!("reading the ledger of store {store}"))?;
        let acked: BTreeSet<u64> = tally
            .sales
            .values()
            .filter(|s| s.store == store)
            .map(|s| s.id)
            .collect();
        let listed_count = after
            .sales_total
            .get(&store)
            .copied()
            .unwrap_or(0)
            .saturating_sub(before.sales_total.get(&store).copied().unwrap_or(0));
        let listed: BTreeSet<u64> = api
            .newest_sales(store, listed_count, token)
            .await
            .with_context(|| format!("listing the sales of store {store}"))?
            .into_iter()
            .collect();
        let ledger_sales: BTreeSet<u64> = entries
            .iter()
            .filter(|e| e.kind == "sale_recorded")
            .filter_map(|e| e.sale_id)
            .collect();
        compare_sales(
            store,
            &acked,
            listed_count,
            &listed,
            &ledger_sales,
            &mut problems,
        );
        let returns_in_ledger = entries.iter().filter(|e| e.kind == "sale_returned").count();
        let returns_acked = tally.returns.get(&store).copied().unwrap_or(0);
        if returns_in_ledger as u64 != returns_acked {
            problems.push(format!(
                "store {store}: {returns_acked} returns acknowledged, {returns_in_ledger} in the ledger"
            ));
        }
        let ledger = replay_ledger(store, &entries, before, &after, &mut problems);
        compare_stock(store, before, &after, &tally, &ledger, &mut problems);
        let flows = tally.flows.iter().filter(|((s, _), _)| *s == store);
        stores.push(StoreCheck {
            store,
            sales_acknowledged: acked.len(),
            sales_listed: listed_count,
            sales_in_ledger: ledger_sales.len(),
            returns_acknowledged: returns_acked,
            returns_in_ledger,
            restocks_received: tally.receipts.get(&store).copied().unwrap_or(0),
            ledger_entries: entries.len(),
            units_sold: flows.clone().map(|(_, f)| f.sold).sum(),
            units_returned: flows.clone().map(|(_, f)| f.returned).sum(),
            units_received: flows.map(|(_, f)| f.received).sum(),
        });
    }
    if tally.retries_matched != tally.retries {
        problems.push(format!(
            "{} of {} retries were not answered with their original sale",
            tally.retries - tally.retries_matched,
            tally.retries
        ));
    }
    Ok(CheckReport {
        passed: problems.is_empty(),
        problems,
        stores,
        retries: tally.retries,
        retries_matched: tally.retries_matched,
        settled,
    })
}

fn quote(ids: impl Iterator<Item = u64>) -> String {
    let ids: Vec<u64> = ids.collect();
    let shown: Vec<String> = ids.iter().take(QUOTED).map(u64::to_string).collect();
    match ids.len().saturating_sub(QUOTED) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

fn compare_sales(
    store: u32,
    acked: &BTreeSet<u64>,
    listed_count: usize,
    listed: &BTreeSet<u64>,
    in_ledger: &BTreeSet<u64>,
    problems: &mut Vec<String>,
) {
    if listed_count != acked.len() {
        problems.push(format!(
            "store {store}: {} distinct keys acknowledged, but the store lists {listed_count} new sales",
            acked.len()
        ));
    }
    for (source, ids) in [("the sales list", listed), ("the ledger", in_ledger)] {
        let missing: Vec<u64> = acked.difference(ids).copied().collect();
        let extra: Vec<u64> = ids.difference(acked).copied().collect();
        if !missing.is_empty() {
            problems.push(format!(
                "store {store}: acknowledged sales missing from {source}: {}",
                quote(missing.into_iter())
            ));
        }
        if !extra.is_empty() {
            problems.push(format!(
                "store {store}: sales in {source} that no answer acknowledged: {}",
                quote(extra.into_iter())
            ));
        }
    }
}

/// Walks the entries in journal order from the "before" stock: each movement's balance
/// must be the previous one plus its change, and the last balance the "after" stock.
fn replay_ledger(
    store: u32,
    entries: &[LedgerEntry],
    before: &Snapshot,
    after: &Snapshot,
    problems: &mut Vec<String>,
) -> BTreeMap<String, LedgerFlow> {
    let mut balance: BTreeMap<&str, i64> = BTreeMap::new();
    let mut flows: BTreeMap<String, LedgerFlow> = BTreeMap::new();
    let mut broken = 0usize;
    for entry in entries {
        for movement in &entry.movements {
            let sku = movement.sku.as_str();
            let previous = *balance.entry(sku).or_insert_with(|| {
                before
                    .stock
                    .get(&(store, sku.to_owned()))
                    .copied()
                    .map_or(0, i64::from)
            });
            let expected = previous + movement.change;
            if expected != i64::from(movement.on_hand_after) {
                broken += 1;
                if broken <= QUOTED {
                    problems.push(format!(
                        "store {store} SKU {sku}: ledger entry {} ({}) has balance {} after a change of {:+} from {previous}",
                        entry.seq, entry.kind, movement.on_hand_after, movement.change
                    ));
                }
            }
            balance.insert(sku, i64::from(movement.on_hand_after));
            let flow = flows.entry(sku.to_owned()).or_default();
            match entry.kind.as_str() {
                "sale_recorded" => flow.sold -= movement.change,
                "sale_returned" => flow.returned += movement.change,
                "restock_received" => flow.received += movement.change,
                "stock_adjusted" => flow.adjusted += movement.change,
                _ => flow.other += movement.change,
            }
        }
    }
    if broken > QUOTED {
        problems.push(format!(
            "store {store}: {} more ledger balances do not follow",
            broken - QUOTED
        ));
    }
    for (sku, last) in balance {
        let now = after
            .stock
            .get(&(store, sku.to_owned()))
            .copied()
            .map(i64::from);
        if now != Some(last) {
            problems.push(format!(
                "store {store} SKU {sku}: the ledger ends at {last}, the stock reads {}",
                now.map_or("nothing".into(), |n| n.to_string())
            ));
        }
    }
    flows
}

/// The tool's account and the ledger's, SKU by SKU.
fn compare_stock(
    store: u32,
    before: &Snapshot,
    after: &Snapshot,
    tally: &Tally,
    ledger: &BTreeMap<String, LedgerFlow>,
    problems: &mut Vec<String>,
) {
    let skus: BTreeSet<&String> = before
        .stock
        .keys()
        .chain(after.stock.keys())
        .filter(|(s, _)| *s == store)
        .map(|(_, sku)| sku)
        .collect();
    let mut wrong = 0usize;
    for sku in skus {
        let key = (store, sku.clone());
        let was = before.stock.get(&key).copied().map_or(0, i64::from);
        let now = after.stock.get(&key).copied().map_or(0, i64::from);
        let tool = tally.flows.get(&key).copied().unwrap_or_default();
        let (sold, returned, received) = (
            i64::try_from(tool.sold).unwrap_or(i64::MAX),
            i64::try_from(tool.returned).unwrap_or(i64::MAX),
            i64::try_from(tool.received).unwrap_or(i64::MAX),
        );
        let expected = was - sold + returned + received;
        let seen = ledger.get(sku).copied().unwrap_or_default();
        let ledger_total =
            was - seen.sold + seen.returned + seen.received + seen.adjusted + seen.other;
        let agrees = (
            seen.sold,
            seen.returned,
            seen.received,
            seen.adjusted,
            seen.other,
        ) == (sold, returned, received, 0, 0);
        if expected == now && ledger_total == now && agrees {
            continue;
        }
        wrong += 1;
        if wrong > QUOTED {
            continue;
        }
        problems.push(format!(
            "store {store} SKU {sku}: before {was} − sold {sold} + returned {returned} + received {received} = {expected}, \
             the server reads {now}; its ledger has sold {}, returned {}, received {}, adjusted {:+}, other {:+} (= {ledger_total})",
            seen.sold, seen.returned, seen.received, seen.adjusted, seen.other
        ));
    }
    if wrong > QUOTED {
        problems.push(format!(
            "store {store}: {} more SKUs do not add up",
            wrong - QUOTED
        ));
    }
}
