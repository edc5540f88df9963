//! How the tool reaches the server: plain HTTP, or HTTPS trusting a CA it is given (the
//! local cluster's self-signed one); every simulated user from one address, or each from
//! its own loopback address, as each till of a chain reaches HAProxy from its own.
//!
//! The one thing not to break: a user's client is set before its first request, so every
//! measured request leaves from that user's address.

use anyhow::{Context, Result, bail};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

/// The first address users are spread over: 127.0.0.1 stays the preparation's and the
/// check's (head office at its desk).
const FIRST_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// What every client of the run shares.
#[derive(Clone)]
pub struct Connection {
    ca: Option<reqwest::Certificate>,
    sources: usize,
}

impl Connection {
    /// `ca`: a PEM file of the CA to trust (only it) for an https:// host. `sources`: how
    /// many loopback addresses users are spread over (0: the system's choice, one for all);
    /// only for a server on this machine.
    pub fn new(host: &str, ca: Option<&Path>, sources: usize) -> Result<Self> {
        let url = reqwest::Url::parse(host).with_context(|| format!("--host {host}"))?;
        let ca = match ca {
            None => None,
            Some(path) => {
                let pem =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                Some(
                    reqwest::Certificate::from_pem(&pem)
                        .with_context(|| format!("{} is not a PEM certificate", path.display()))?,
                )
            }
        };
        if ca.is_some() && url.scheme() != "https" {
            bail!("--ca-cert is for an https:// host, not {host}");
        }
        if sources > 0 {
            // IPv4 loopback: the sources are 127/8 addresses.
            let loopback = match url.host_str() {
                Some("localhost") => true,
                Some(host) => host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback()),
                None => false,
            };
            if !loopback {
                bail!(
                    "--source-addresses spreads users over 127.0.0.0/8: the host must be 127.x or localhost, not {host}"
                );
            }
            if sources > 65_000 {
                bail!("--source-addresses: at most 65000");
            }
        }
        Ok(Self { ca, sources })
    }

    /// Whether users need a client of their own (goose's default is plain, from any
    /// address, trusting the system's CAs).
    pub fn customized(&self) -> bool {
        self.ca.is_some() || self.sources > 0
    }

    /// A client builder trusting the given CA, if any.
    pub fn builder(&self) -> reqwest::ClientBuilder {
        let builder = reqwest::Client::builder()
            .user_agent(concat!("magasin-loadtest/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            .gzip(true);
        match &self.ca {
            Some(ca) => builder.tls_certs_only([ca.clone()]),
            None => builder,
        }
    }

    /// The builder of the `user`-th simulated user: its own loopback address when users
    /// are spread (127.0.0.2, 127.0.0.3, … wrapping after `sources`).
    pub fn user_builder(&self, user: usize) -> reqwest::ClientBuilder {
        match self.source_of(user) {
            Some(source) => self.builder().local_address(source),
            None => self.builder(),
        }
    }

    fn source_of(&self, user: usize) -> Option<IpAddr> {
        if self.sources == 0 {
            return None;
        }
        let offset = u32::try_from(user % self.sources).ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(u32::from(FIRST_SOURCE) + offset)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_spread_over_loopback_addresses_after_127_0_0_1() {
        let spread = Connection::new("http://127.0.0.1:8080", None, 300).expect("valid");
        let ip = |user| spread.source_of(user).map(|a| a.to_string());
        assert_eq!(ip(0).as_deref(), Some("127.0.0.2"));
        assert_eq!(ip(253).as_deref(), Some("127.0.0.255"));
        assert_eq!(ip(254).as_deref(), Some("127.0.1.0"));
        assert_eq!(ip(300).as_deref(), Some("127.0.0.2"));
        let one = Connection::new("http://127.0.0.1:8080", None, 0).expect("valid");
        assert_eq!(one.source_of(5), None);
        assert!(!one.customized());
    }

    #[test]
    fn options_that_cannot_work_are_refused() {
        assert!(Connection::new("https://example.com", None, 4).is_err());
        assert!(
            Connection::new("http://127.0.0.1:8080", Some(Path::new("/no/such.pem")), 0).is_err()
        );
        assert!(Connection::new("https://localhost:8443", None, 4).is_ok());
    }
}
