//! End-to-end tests: the real server on port 0 with a temp data dir, real HTTP over
//! loopback. Crash tests run the real binary as a child process and SIGKILL it.

mod accessibility;
mod accounts;
mod auth;
mod backup;
mod browser;
mod browser_offline;
mod browser_till;
mod browser_users;
mod catalog;
mod cluster;
mod cluster_local;
mod concurrency;
mod crash_cycles;
mod disk;
mod edge;
mod errors;
mod events;
mod formats;
mod formats_v2;
mod helpers;
mod idempotency;
mod ledger;
mod openapi;
mod ops;
mod process;
mod receipts;
mod reports;
mod responsive;
mod restart;
mod restock;
mod returns;
mod sales;
mod stock;
mod till;
mod verify;
