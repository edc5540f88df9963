//! Typed settings: `config/default.toml` (built into the binary), then an optional file,
//! then `MAGASIN_<SECTION>__<KEY>` environment variables, then command-line flags.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::actors::{ActorSettings, Clock};
use crate::auth::ThrottleSettings;
pub use crate::cluster::ClusterSettings;
use crate::domain::KeyRetention;
use crate::persistence::{Backend, WriterSettings};

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub actors: ActorsSection,
    pub idempotency: IdempotencySettings,
    pub auth: AuthSettings,
    pub reports: ReportSettings,
    /// How reorder points are proposed from sales (ADR 0030).
    pub replenishment: crate::domain::ReplenishmentPolicy,
    /// The stores that file an automatic restock request every day (ADR 0030).
    pub auto_restock: crate::actors::auto_restock::AutoRestockSettings,
    pub demo: DemoSettings,
    pub webhooks: crate::webhooks::WebhookSettings,
    pub cluster: ClusterSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSettings {
    pub time_zone: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub token_ttl_minutes: u64,
    pub max_failed_logins: usize,
    pub lockout_window_minutes: u64,
    /// Only from the environment (`MAGASIN_JWT_SECRET`), never from a file.
    #[serde(skip)]
    pub jwt_secret: Option<String>,
    /// The first administrator's username, created when the chain has no user
    /// (`crate::bootstrap`).
    pub bootstrap_admin: String,
    /// Only from the environment (`MAGASIN_BOOTSTRAP_ADMIN_PASSWORD`), never from a file.
    #[serde(skip)]
    pub bootstrap_password: Option<String>,
    /// The Ed25519 seed that signs Z reports, hexadecimal; only from the environment
    /// (`MAGASIN_AUDIT_KEY`). Without it, a key generated once into the data directory.
    #[serde(skip)]
    pub audit_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub body_limit_bytes: usize,
    pub workers: usize,
    /// Peers whose `X-Forwarded-For` is believed (addresses or CIDR blocks).
    #[serde(default, deserialize_with = "addresses_or_blocks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    #[serde(default)]
    pub tls: TlsSettings,
}

/// `["10.0.0.0/8", "127.0.0.1"]`: a bare address is a block of one.
fn addresses_or_blocks<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let raw = Vec::<String>::deserialize(deserializer)?;
    raw.iter()
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{entry:?} is neither an address nor a CIDR block"
                    ))
                })
        })
        .collect()
}

/// The certificate chain and key the server answers HTTPS with; both or neither.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub backend: Backend,
    pub data_dir: PathBuf,
    pub snapshot_every: u64,
    pub max_batch_events: usize,
    /// Read from older configuration files and ignored: stores no longer hold sales, so
    /// compaction has none to let go (a warning at start says so).
    #[serde(default)]
    pub keep_sales_days: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorsSection {
    pub mailbox_capacity: usize,
    pub ask_timeout_ms: u64,
}

/// How long a store remembers an idempotency key: one window for every write that takes
/// a key (ADR 0028).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencySettings {
    /// `retention_hours` in the file and the environment; a fraction of an hour is allowed
    /// (`0.5`), from one second to 30 days.
    #[serde(rename = "retention_hours", deserialize_with = "retention_hours")]
    pub retention: KeyRetention,
}

fn retention_hours<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<KeyRetention, D::Error> {
    let hours = f64::deserialize(deserializer)?;
    // Saturates on an absurd number and gives 0 for NaN: the bounds refuse both.
    let millis = (hours * 3_600_000.0).round() as i64;
    KeyRetention::from_millis(millis)
        .map_err(|e| serde::de::Error::custom(format!("retention_hours = {hours}: {e}")))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    pub enabled: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl Settings {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        // Only nested keys (SECTION__KEY): the short aliases (MAGASIN_BIND, …) are the CLI's.
        let env = Env::prefixed("MAGASIN_")
            .filter(|key| key.as_str().contains("__"))
            .split("__");
        let mut settings: Settings = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))?;
        settings.auth.jwt_secret = std::env::var("MAGASIN_JWT_SECRET")
            .ok()
            .filter(|s| !s.is_empty());
        settings.auth.audit_key = std::env::var("MAGASIN_AUDIT_KEY")
            .ok()
            .filter(|s| !s.is_empty());
        settings.cluster.secret = std::env::var("MAGASIN_CLUSTER_SECRET")
            .ok()
            .filter(|s| !s.is_empty());
        // A secret mounted from a file (`kubectl create secret --from-file`) ends with a
        // newline the administrator never types.
        settings.auth.bootstrap_password = std::env::var(crate::bootstrap::PASSWORD_ENV)
            .ok()
            .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
            .filter(|s| !s.is_empty());
        Ok(settings)
    }

    /// The built-in defaults alone (tests start from these).
    pub fn defaults() -> Result<Self, ConfigError> {
        Figment::from(Toml::string(DEFAULTS))
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))
    }

    pub fn actor_settings(&self) -> ActorSettings {
        ActorSettings {
            snapshot_every: self.storage.snapshot_every,
            mailbox_capacity: self.actors.mailbox_capacity,
            ask_timeout: Duration::from_millis(self.actors.ask_timeout_ms),
            clock: Clock::wall(),
            key_retention: self.idempotency.retention,
        }
    }

    pub fn throttle_settings(&self) -> ThrottleSettings {
        ThrottleSettings {
            max_failures: self.auth.max_failed_logins.max(1),
            window: Duration::from_secs(self.auth.lockout_window_minutes * 60),
        }
    }

    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.auth.token_ttl_minutes.max(1) * 60)
    }

    pub fn writer_settings(&self) -> WriterSettings {
        WriterSettings {
            max_batch_events: self.storage.max_batch_events.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_defaults_parse() {
        let settings = Settings::defaults().expect("defaults parse");
        assert_eq!(settings.server.bind, "127.0.0.1:8080");
        assert_eq!(settings.storage.backend, Backend::Sqlite);
        assert!(settings.demo.enabled);
    }

    #[test]
    fn the_idempotency_window_is_read_in_hours_and_bounded() {
        let settings = Settings::defaults().expect("defaults parse");
        assert_eq!(settings.idempotency.retention.window_ms(), 72 * 3_600_000);
        let read = |toml: &str| {
            Figment::from(Toml::string(DEFAULTS))
                .merge(Toml::string(toml))
                .extract::<Settings>()
                .map(|s| s.idempotency.retention.window_ms())
                .ok()
        };
        let hours = |h: &str| read(&format!("[idempotency]\nretention_hours = {h}"));
        assert_eq!(hours("24"), Some(24 * 3_600_000));
        assert_eq!(hours("0.5"), Some(1_800_000));
        assert_eq!(hours("720"), Some(720 * 3_600_000));
        for refused in ["0", "-1", "0.0001", "721", "1e300", "nan"] {
            assert_eq!(hours(refused), None, "retention_hours = {refused}");
        }
    }
}
