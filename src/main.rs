//! The `magasin` binary: parses the command line and the configuration, then runs the
//! library. Nothing else lives here.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use magasin::Application;
use magasin::config::Settings;
use magasin::persistence::Backend;

/// mimalloc rather than the system allocator: glibc kept each thread arena at its peak, and
/// 64 tills logging in at once (argon2 then took 19 MiB a hash, all at once) left the
/// server at 630 MiB resident for 53 MiB of live heap (heaptrack). See ADR 0013.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "magasin", version, about = "Backend of a retail chain")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `magasin --bind …` is `magasin serve --bind …`.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default when no command is given).
    Serve(ServeArgs),
    /// Move the journal's old events to the archive (`<data-dir>/archive/`), keeping a
    /// snapshot of every stream (sales stay readable in the history); run it with the
    /// instance stopped.
    Compact(ServeArgs),
    /// Check the hash chain of every stream, journal and archive, from its first event:
    /// prints each stream's events checked and head, or the first event where the chain
    /// breaks, and exits non-zero if any does. Run it with the instance stopped.
    Verify(ServeArgs),
    /// Administration of a stopped instance.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Certificates for HTTPS.
    #[command(subcommand)]
    Tls(TlsCommand),
}

#[derive(Subcommand)]
enum TlsCommand {
    /// Write a self-signed certificate into DIR for a chain given none: ca.pem (the CA
    /// clients trust), cert.pem (the certificate, then the CA), key.pem and haproxy.pem
    /// (both, as HAProxy reads them), valid a year for localhost, 127.0.0.1, ::1 and every
    /// --host. Keeps the files when DIR/haproxy.pem exists.
    SelfSigned {
        /// Where the files go (created, mode 0700).
        #[arg(long)]
        dir: PathBuf,
        /// Another name or address the certificate is for (repeat it for more).
        #[arg(long = "host", value_name = "NAME")]
        hosts: Vec<String>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Give USER a temporary password (printed once), to be changed at the next login, and
    /// reactivate them: the way back into a chain whose administrators are all lost. Run
    /// it with the instance stopped, on the data directory of the instance that owns the
    /// reference data; the change is journaled like any other change to a user.
    ResetPassword {
        /// The user, e.g. admin.
        username: String,
        #[command(flatten)]
        args: ServeArgs,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, env = "MAGASIN_BIND")]
    bind: Option<String>,
    /// Directory of the journal and snapshots.
    #[arg(long, env = "MAGASIN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Do not seed the demo chain into an empty data directory.
    #[arg(long)]
    no_demo_data: bool,
    /// Storage engine of the journal.
    #[arg(long, value_parser = ["sqlite", "sled"])]
    backend: Option<String>,
    /// A TOML file overriding config/default.toml.
    #[arg(long, env = "MAGASIN_CONFIG")]
    config: Option<PathBuf>,
}

fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("MAGASIN_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn settings(args: &ServeArgs) -> Result<Settings, String> {
    let mut settings = Settings::load(args.config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(bind) = &args.bind {
        settings.server.bind = bind.clone();
    }
    if let Some(dir) = &args.data_dir {
        settings.storage.data_dir = dir.clone();
    }
    if args.no_demo_data {
        settings.demo.enabled = false;
    }
    match args.backend.as_deref() {
        Some("sled") => settings.storage.backend = Backend::Sled,
        Some("sqlite") => settings.storage.backend = Backend::Sqlite,
        _ => {}
    }
    Ok(settings)
}

fn reset_password(settings: &Settings, username: &str) -> ExitCode {
    let data_dir = &settings.storage.data_dir;
    let backend = settings.storage.backend;
    match magasin::recovery::reset_password(backend, data_dir, &settings.cluster, username) {
        Ok(temporary) => {
            println!("temporary password of {username}: {temporary}");
            println!("{username} must choose a new password at the next login.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("magasin: cannot reset the password of {username}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn verify(settings: &Settings) -> ExitCode {
    let data_dir = &settings.storage.data_dir;
    let backend = settings.storage.backend;
    match magasin::persistence::integrity::verify_data_dir(backend, data_dir) {
        Ok(streams) => {
            for stream in &streams {
                println!("{stream}");
            }
            let broken = streams.iter().filter(|s| s.broken.is_some()).count();
            if broken == 0 {
                println!(
                    "{}: {} streams, every chain whole",
                    data_dir.display(),
                    streams.len()
                );
                ExitCode::SUCCESS
            } else {
                println!(
                    "{}: {broken} of {} streams broken",
                    data_dir.display(),
                    streams.len()
                );
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("magasin: cannot verify {}: {e}", data_dir.display());
            ExitCode::from(2)
        }
    }
}

fn compact(settings: &Settings) -> ExitCode {
    let data_dir = &settings.storage.data_dir;
    match magasin::compaction::compact(settings.storage.backend, data_dir) {
        Ok(done) => {
            for s in &done.streams {
                if s.archived > 0 {
                    println!(
                        "{}: {} events archived, snapshot at {}",
                        s.stream, s.archived, s.snapshot_seq
                    );
                }
            }
            println!(
                "compacted {} in {:.1} s: {} events archived; journal {} -> {} bytes; archive {} bytes",
                data_dir.display(),
                done.took.as_secs_f64(),
                done.archived(),
                done.journal_bytes_before,
                done.journal_bytes_after,
                done.archive_bytes
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("magasin: compaction of {} failed: {e}", data_dir.display());
            ExitCode::FAILURE
        }
    }
}

fn self_signed_certificate(dir: &std::path::Path, hosts: &[String]) -> ExitCode {
    use magasin::tls::{self, SelfSigned};
    match tls::self_signed(dir, hosts) {
        Ok(SelfSigned::Written { names, not_after }) => {
            println!(
                "magasin tls: a self-signed certificate for {} in {}, valid until {}; \
                 clients trust {}",
                names.join(", "),
                dir.display(),
                not_after.date(),
                dir.join(tls::CA_FILE).display()
            );
            ExitCode::SUCCESS
        }
        Ok(SelfSigned::Kept) => {
            println!(
                "magasin tls: {} exists; the certificate in {} is kept",
                dir.join(tls::HAPROXY_FILE).display(),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("magasin: no certificate written in {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// What a command does to a stopped instance's data directory.
enum Offline {
    Compact,
    Verify,
    ResetPassword(String),
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    let (args, offline): (ServeArgs, Option<Offline>) = match cli.command {
        Some(Command::Serve(args)) => (args, None),
        Some(Command::Compact(args)) => (args, Some(Offline::Compact)),
        Some(Command::Verify(args)) => (args, Some(Offline::Verify)),
        Some(Command::Admin(AdminCommand::ResetPassword { username, args })) => {
            (args, Some(Offline::ResetPassword(username)))
        }
        // Nothing to do with a data directory or the settings.
        Some(Command::Tls(TlsCommand::SelfSigned { dir, hosts })) => {
            return self_signed_certificate(&dir, &hosts);
        }
        None => (cli.serve, None),
    };
    let settings = match settings(&args) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("magasin: {e}");
            return ExitCode::from(2);
        }
    };
    match offline {
        Some(Offline::Compact) => return compact(&settings),
        Some(Offline::Verify) => return verify(&settings),
        Some(Offline::ResetPassword(username)) => return reset_password(&settings, &username),
        None => {}
    }
    let app = match Application::build(&settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "start-up failed");
            eprintln!("magasin: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Tests and scripts read this line to find the port when binding to port 0.
    let tls = &settings.server.tls;
    let scheme = if tls.cert.is_some() && tls.key.is_some() {
        "https"
    } else {
        "http"
    };
    println!("magasin listening on {scheme}://{}", app.addr());
    tracing::info!(addr = %app.addr(), backend = ?settings.storage.backend, data_dir = %settings.storage.data_dir.display(), "serving");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server error");
            ExitCode::FAILURE
        }
    }
}
