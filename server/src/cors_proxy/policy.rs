//! Which upstream URLs and addresses the CORS proxy may reach.
//!
//! Always refused: other schemes than http(s), credentials in the URL, link-local,
//! unspecified, multicast and cloud-metadata addresses and names. When Hearth listens on a
//! non-loopback address, loopback and private ranges are refused too, unless an admin lists
//! the host or a network containing it. The check applies to every address a name resolves
//! to, so it must run on the resolved addresses (and again after every redirect), never on
//! the name alone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use url::Url;

/// Host names of cloud metadata services.
const METADATA_HOSTS: &[&str] =
    &["metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"];

/// Why a URL or address is refused; the message is shown to the user as is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("only http and https URLs can be proxied, not {0:?}")]
    Scheme(String),
    #[error("URLs with credentials in them are not proxied; put them in a header instead")]
    Credentials,
    #[error("the URL has no host")]
    NoHost,
    #[error("{0} is a cloud metadata service, which is never proxied")]
    Metadata(String),
    #[error("{0} is a link-local, unspecified or multicast address, which is never proxied")]
    NeverReachable(IpAddr),
    #[error("{0} is a loopback or private address; an admin must add it to cors_proxy.allow")]
    Private(IpAddr),
}

/// One entry of the admin's `cors_proxy.allow` list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Allowed {
    Host(String),
    Net(IpNet),
}

#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Refuse loopback and private ranges (Hearth listens on a non-loopback address).
    restrict_private: bool,
    allow: Vec<Allowed>,
}

impl Policy {
    /// `allow` holds host names, IP addresses or CIDR networks.
    pub fn new(restrict_private: bool, allow: &[String]) -> Result<Policy, String> {
        let allow = allow
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                if let Ok(net) = entry.parse::<IpNet>() {
                    Ok(Allowed::Net(net))
                } else if let Ok(ip) = entry.parse::<IpAddr>() {
                    Ok(Allowed::Net(IpNet::from(ip)))
                } else if !entry.is_empty() && entry.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
                    Ok(Allowed::Host(entry.to_ascii_lowercase()))
                } else {
                    Err(format!("{entry:?} in cors_proxy.allow is not a host name, an IP address or a CIDR network"))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Policy { restrict_private, allow })
    }

    /// Checks what can be known from the URL alone: scheme, credentials, metadata names and
    /// IP literals. Names are checked again on their resolved addresses.
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        match url.host().ok_or(Refusal::NoHost)? {
            url::Host::Domain(name) => self.check_name(name),
            url::Host::Ipv4(ip) => self.check_addr("", IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => self.check_addr("", IpAddr::V6(ip)),
        }
    }

    fn check_name(&self, name: &str) -> Result<(), Refusal> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if METADATA_HOSTS.contains(&name.as_str()) {
            return Err(Refusal::Metadata(name));
        }
        Ok(())
    }

    /// Checks one address that `host` resolved to (`host` is empty for an IP literal).
    pub fn check_addr(&self, host: &str, ip: IpAddr) -> Result<(), Refusal> {
        self.check_name(host)?;
        let ip = canonical(ip);
        if is_metadata(ip) {
            return Err(Refusal::Metadata(ip.to_string()));
        }
        if never_reachable(ip) {
            return Err(Refusal::NeverReachable(ip));
        }
        if self.restrict_private && is_private(ip) && !self.allows(host, ip) {
            return Err(Refusal::Private(ip));
        }
        Ok(())
    }

    fn allows(&self, host: &str, ip: IpAddr) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allow.iter().any(|entry| match entry {
            Allowed::Host(name) => !host.is_empty() && *name == host,
            Allowed::Net(net) => net.contains(&ip),
        })
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is judged as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn is_metadata(ip: IpAddr) -> bool {
    const EC2_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    match ip {
        IpAddr::V4(v4) => v4 == Ipv4Addr::new(169, 254, 169, 254) || v4 == Ipv4Addr::new(100, 100, 100, 200),
        IpAddr::V6(v6) => v6 == EC2_V6,
    }
}

fn never_reachable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || v4.octets()[0] == 0,
        IpAddr::V6(v6) => v6.is_unicast_link_local() || v6.is_unspecified() || v6.is_multicast(),
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback() || v4.is_private() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_plain_http_urls_pass() {
        let open = Policy::default();
        assert!(open.check_url(&url("https://mcp.example.com/mcp")).is_ok());
        assert_eq!(open.check_url(&url("file:///etc/passwd")), Err(Refusal::Scheme("file".into())));
        assert_eq!(open.check_url(&url("ftp://x.example/")), Err(Refusal::Scheme("ftp".into())));
        assert_eq!(open.check_url(&url("http://user:pw@x.example/")), Err(Refusal::Credentials));
        assert_eq!(open.check_url(&url("http://token@x.example/")), Err(Refusal::Credentials));
    }

    #[test]
    fn metadata_and_link_local_are_refused_even_on_loopback() {
        let open = Policy::default();
        for refused in ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://metadata.google.internal/", "http://METADATA.google.internal./"] {
            assert!(matches!(open.check_url(&url(refused)), Err(Refusal::Metadata(_))), "{refused}");
        }
        for refused in ["169.254.1.1", "fe80::1", "0.0.0.0", "::", "224.0.0.1", "::ffff:169.254.1.1"] {
            assert!(open.check_addr("h.example", ip(refused)).is_err(), "{refused}");
        }
        assert!(open.check_addr("metadata", ip("10.0.0.1")).is_err(), "a metadata name is refused whatever it resolves to");
    }

    #[test]
    fn private_ranges_are_reachable_on_loopback_and_refused_otherwise() {
        let local = Policy::new(false, &[]).unwrap();
        let public = Policy::new(true, &[]).unwrap();
        for private in ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "fd12::1", "100.64.0.1", "::ffff:127.0.0.1"] {
            assert!(local.check_addr("h", ip(private)).is_ok(), "{private}");
            assert_eq!(public.check_addr("h", ip(private)), Err(Refusal::Private(canonical(ip(private)))), "{private}");
        }
        assert!(public.check_addr("h", ip("93.184.216.34")).is_ok());
        assert!(public.check_addr("h", ip("172.32.0.1")).is_ok(), "just outside 172.16/12");
    }

    #[test]
    fn the_allow_list_opens_private_hosts_and_networks_but_never_metadata() {
        let policy = Policy::new(true, &["10.0.0.0/8".into(), "mcp.internal".into(), "192.168.1.7".into(), "169.254.0.0/16".into()]).unwrap();
        assert!(policy.check_addr("any", ip("10.9.9.9")).is_ok());
        assert!(policy.check_addr("MCP.internal.", ip("172.16.0.5")).is_ok());
        assert!(policy.check_addr("other.internal", ip("172.16.0.5")).is_err());
        assert!(policy.check_addr("", ip("192.168.1.7")).is_ok());
        assert!(policy.check_addr("", ip("192.168.1.8")).is_err());
        assert!(policy.check_addr("", ip("169.254.169.254")).is_err(), "metadata stays refused");
        assert!(policy.check_addr("", ip("169.254.1.1")).is_err(), "link-local stays refused");
    }

    #[test]
    fn a_malformed_allow_entry_is_an_error_that_names_it() {
        let err = Policy::new(true, &["10.0.0.0/33".into()]).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(Policy::new(true, &["http://x".into()]).is_err());
    }
}
