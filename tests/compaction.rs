//! Compaction in CI: 10,000 sales through a store's actor, on SQLite and on sled, then
//! compaction and a restart: every sale still readable (and in the archive's CSV), stock
//! and reports unchanged, the journal smaller, the history rebuilt from the archive; a sale
//! of the first day returned once, and not twice. The full size is `examples/compaction.rs`.

#[path = "support/compaction_scenario.rs"]
mod scenario;

use magasin::persistence::Backend;

#[test]
fn sqlite_compaction_keeps_every_sale_stock_and_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outcome = scenario::run(Backend::Sqlite, dir.path(), 10_000);
    println!("{}", outcome.table(Backend::Sqlite));
}

#[test]
fn sled_compaction_keeps_every_sale_stock_and_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outcome = scenario::run(Backend::Sled, dir.path(), 10_000);
    println!("{}", outcome.table(Backend::Sled));
}
