//! The client's address, as the login throttle and the logs need it: behind HAProxy every
//! connection comes from HAProxy, so its `X-Forwarded-For` names the client. The header is
//! believed only from the configured proxies (`server.trusted_proxies`): anyone else could
//! write any address in it. A request forwarded by another instance of the cluster carries
//! the address that instance resolved ([`CLIENT_HEADER`]), believed only on a call signed
//! with the cluster's key.

use actix_web::HttpRequest;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr};

use super::internal::Peer;

/// The client address a forwarding instance resolved, on the request it forwards.
pub const CLIENT_HEADER: &str = "x-magasin-client";

/// The address the request comes from, as far as it can be known.
pub fn address(req: &HttpRequest, trusted: &[IpNet]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    if let Some(forwarded) = header(req, CLIENT_HEADER).and_then(|v| v.trim().parse().ok())
        && Peer::forwarder(req).is_some()
    {
        return forwarded;
    }
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let hops = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    from_forwarded_for(peer, &hops, trusted)
}

/// The nearest address of the chain that is not a trusted proxy (the chain read from the
/// right: each proxy appends the address it got the request from). An entry that is no
/// address stops the walk: what lies left of it cannot be trusted.
fn from_forwarded_for(peer: IpAddr, hops: &[&str], trusted: &[IpNet]) -> IpAddr {
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(address) => {
                client = address;
                if !is_trusted(address, trusted) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

fn is_trusted(address: IpAddr, trusted: &[IpNet]) -> bool {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    };
    trusted.iter().any(|net| net.contains(&address))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(raw: &[&str]) -> Vec<IpNet> {
        raw.iter().map(|n| n.parse().expect("a block")).collect()
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().expect("an address")
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.5");
        assert_eq!(
            from_forwarded_for(peer, &["203.0.113.7"], &trusted),
            ip("203.0.113.7")
        );
        // A client that writes its own header cannot hide behind it.
        assert_eq!(
            from_forwarded_for(peer, &["1.2.3.4", "203.0.113.7"], &trusted),
            ip("203.0.113.7")
        );
        // Two proxies of ours in a row.
        assert_eq!(
            from_forwarded_for(peer, &["203.0.113.7", "10.0.0.9"], &trusted),
            ip("203.0.113.7")
        );
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            from_forwarded_for(peer, &["203.0.113.7", "nonsense"], &trusted),
            peer
        );
        assert_eq!(from_forwarded_for(peer, &[], &trusted), peer);
    }

    #[test]
    fn mapped_addresses_match_their_ipv4_block() {
        let trusted = nets(&["127.0.0.1/32"]);
        assert!(is_trusted(ip("::ffff:127.0.0.1"), &trusted));
        assert!(!is_trusted(ip("127.0.0.2"), &trusted));
    }
}
