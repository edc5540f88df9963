//! The full-size compaction figures of docs/capacity.md: 1,000,000 sales through one
//! store's actor (not the API), stamped over 417 days of trading, then recovery,
//! compaction, recovery again, the history rebuilt from the archive and a sale of the first
//! day returned, checked as the CI test checks 10,000 (`tests/support/compaction_scenario.rs`).
//! Prints a markdown table.
//!
//!     cargo run --release --example compaction -- [SALES] [sqlite|sled]

#[path = "../tests/support/compaction_scenario.rs"]
mod scenario;

use magasin::persistence::Backend;

fn main() {
    let mut args = std::env::args().skip(1);
    let sales = args
        .next()
        .map_or(Ok(1_000_000), |a| a.parse::<u64>())
        .unwrap_or_else(|_| {
            eprintln!("usage: compaction [SALES] [sqlite|sled]");
            std::process::exit(2)
        });
    let backend = match args.next().as_deref() {
        None | Some("sqlite") => Backend::Sqlite,
        Some("sled") => Backend::Sled,
        Some(other) => {
            eprintln!("unknown backend {other}: sqlite or sled");
            std::process::exit(2)
        }
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| {
        eprintln!("no temporary directory: {e}");
        std::process::exit(1)
    });
    let outcome = scenario::run(backend, dir.path(), sales);
    println!("{}", outcome.table(backend));
}
