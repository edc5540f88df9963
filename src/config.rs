//! Typed settings: `config/default.toml` (built into the binary), then an optional file,
//! then `MAGASIN_<SECTION>__<KEY>` environment variables, then command-line flags.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::actors::ActorSettings;
use crate::persistence::{Backend, WriterSettings};

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub actors: ActorsSection,
    pub demo: DemoSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub body_limit_bytes: usize,
    pub workers: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub backend: Backend,
    pub data_dir: PathBuf,
    pub snapshot_every: u64,
    pub max_batch_events: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorsSection {
    pub mailbox_capacity: usize,
    pub ask_timeout_ms: u64,
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
        figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))
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
        }
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
}
