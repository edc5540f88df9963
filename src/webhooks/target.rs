//! Where a webhook may point: an absolute `https` URL to a public address. A receiver on
//! loopback or a private network (and plain `http`) only where the configuration allows
//! private targets: otherwise anyone who may register an endpoint could make the server
//! call into its own network. The host is resolved at registration and again at every
//! delivery (a name may point elsewhere later).

use std::net::{IpAddr, Ipv6Addr};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("not an absolute URL")]
    NotAUrl,
    #[error("only https (http where private targets are allowed)")]
    Scheme,
    #[error("{0} is a loopback, private or reserved address")]
    Private(IpAddr),
    #[error("{0} does not resolve")]
    Unresolved(String),
}

/// Checks `url`; with `resolve`, also where its host points now.
pub async fn check_target(
    url: &str,
    allow_private: bool,
    resolve: bool,
) -> Result<(), TargetError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| TargetError::NotAUrl)?;
    let host = parsed.host_str().ok_or(TargetError::NotAUrl)?.to_owned();
    match (parsed.scheme(), allow_private) {
        ("https", _) | ("http", true) => {}
        _ => return Err(TargetError::Scheme),
    }
    if allow_private || !resolve {
        return Ok(());
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| TargetError::Unresolved(host.clone()))?
            .map(|a| a.ip())
            .collect(),
    };
    if addresses.is_empty() {
        return Err(TargetError::Unresolved(host));
    }
    match addresses.into_iter().find(|ip| !is_public(*ip)) {
        Some(ip) => Err(TargetError::Private(ip)),
        None => Ok(()),
    }
}

/// Whether `ip` is an address of the public internet.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // Shared address space (RFC 6598) and "this network".
                || (a == 100 && (64..128).contains(&b))
                || a == 0)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                !(v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || is_local_v6(v6))
            }
        },
    }
}

/// Unique local (fc00::/7) and link-local (fe80::/10) addresses.
fn is_local_v6(v6: Ipv6Addr) -> bool {
    let first = v6.segments()[0];
    (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, allow: bool) -> Result<(), TargetError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(check_target(url, allow, true))
    }

    #[test]
    fn only_https_to_public_addresses_unless_private_targets_are_allowed() {
        assert_eq!(check("https://203.0.114.9/hook", false), Ok(()));
        assert_eq!(
            check("http://203.0.114.9/hook", false),
            Err(TargetError::Scheme)
        );
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.4",
            "169.254.169.254",
            "100.64.0.1",
            "[::1]",
            "[fd00::1]",
            "[::ffff:10.0.0.1]",
        ] {
            assert!(
                matches!(
                    check(&format!("https://{private}/hook"), false),
                    Err(TargetError::Private(_))
                ),
                "{private}"
            );
        }
        assert_eq!(check("http://127.0.0.1:9000/hook", true), Ok(()));
        assert_eq!(check("ftp://127.0.0.1/", true), Err(TargetError::Scheme));
        assert_eq!(check("not a url", true), Err(TargetError::NotAUrl));
        assert!(matches!(
            check("https://localhost/hook", false),
            Err(TargetError::Private(_))
        ));
    }
}
