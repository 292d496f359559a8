//! Which upstream URLs and addresses the CORS proxy may reach.
//!
//! Always refused: other schemes than http(s), credentials in the URL, link-local,
//! unspecified, multicast and cloud-metadata addresses and names. Loopback and private
//! addresses (the host's own interface addresses count as loopback) are open only to a
//! trusted caller (an admin, local mode included) while Hearth listens on loopback; to
//! everyone else, and to everyone on a public bind, only where an admin lists the host or a
//! network containing it.
//!
//! An IPv6 address that embeds an IPv4 address (mapped, compatible, translated, NAT64, 6to4,
//! Teredo) is judged as that IPv4 address too, and refused if either is. The check applies to
//! every address a name resolves to, so it must run on the resolved addresses (and again
//! after every redirect), never on the name alone.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use url::Url;

/// Host names of cloud metadata services.
const METADATA_HOSTS: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

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
    #[error(
        "{0} is a loopback or private address: the proxy reaches those only for admins while Hearth listens on \
         loopback, and otherwise only when an admin adds it to cors_proxy.allow"
    )]
    Private(IpAddr),
}

/// Who is asking, as far as private addresses go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// May reach loopback and private addresses while Hearth listens on loopback (admins).
    Trusted,
    /// Reaches them only through the allow list.
    Untrusted,
}

/// One entry of the admin's `cors_proxy.allow` list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Allowed {
    Host(String),
    Net(IpNet),
}

#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Hearth listens on a non-loopback address: private ranges need the allow list, whoever asks.
    public_bind: bool,
    allow: Vec<Allowed>,
}

impl Policy {
    /// `allow` holds host names, IP addresses or CIDR networks.
    pub fn new(public_bind: bool, allow: &[String]) -> Result<Policy, String> {
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
        Ok(Policy { public_bind, allow })
    }

    /// Checks what can be known from the URL alone: scheme, credentials, metadata names and
    /// IP literals. Names are checked again on their resolved addresses.
    pub fn check_url(&self, url: &Url, caller: Caller) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        match url.host().ok_or(Refusal::NoHost)? {
            url::Host::Domain(name) => check_name(name),
            url::Host::Ipv4(ip) => self.check_addr("", IpAddr::V4(ip), caller),
            url::Host::Ipv6(ip) => self.check_addr("", IpAddr::V6(ip), caller),
        }
    }

    /// Checks one address that `host` resolved to (`host` is empty for an IP literal).
    pub fn check_addr(&self, host: &str, ip: IpAddr, caller: Caller) -> Result<(), Refusal> {
        self.check_addr_with(host, ip, caller, &own_addresses())
    }

    fn check_addr_with(
        &self,
        host: &str,
        ip: IpAddr,
        caller: Caller,
        own: &HashSet<IpAddr>,
    ) -> Result<(), Refusal> {
        check_name(host)?;
        let judged = judged_as(ip);
        if let Some(metadata) = judged.iter().find(|ip| is_metadata(**ip)) {
            return Err(Refusal::Metadata(metadata.to_string()));
        }
        if let Some(never) = judged.iter().find(|ip| never_reachable(**ip)) {
            return Err(Refusal::NeverReachable(*never));
        }
        let open = caller == Caller::Trusted && !self.public_bind;
        match judged
            .into_iter()
            .find(|ip| (is_private(*ip) || own.contains(ip)) && !open && !self.allows(host, *ip))
        {
            Some(private) => Err(Refusal::Private(private)),
            None => Ok(()),
        }
    }

    fn allows(&self, host: &str, ip: IpAddr) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allow.iter().any(|entry| match entry {
            Allowed::Host(name) => !host.is_empty() && *name == host,
            Allowed::Net(net) => net.contains(&ip),
        })
    }
}

fn check_name(name: &str) -> Result<(), Refusal> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if METADATA_HOSTS.contains(&name.as_str()) {
        return Err(Refusal::Metadata(name));
    }
    Ok(())
}

/// The address itself and every IPv4 address it embeds: each must pass.
fn judged_as(ip: IpAddr) -> Vec<IpAddr> {
    let mut out = vec![ip];
    if let IpAddr::V6(v6) = ip {
        out.extend(embedded_v4(v6).into_iter().map(IpAddr::V4));
    }
    out
}

/// The IPv4 addresses an IPv6 address carries by one of the standard embeddings.
fn embedded_v4(v6: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = v6.segments();
    let last32 = Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32);
    let mut out = Vec::new();
    match s {
        // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (translated).
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => out.push(last32),
        // ::a.b.c.d (compatible, deprecated), but not :: or ::1 themselves.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => out.push(last32),
        // NAT64: the well-known prefix 64:ff9b::/96, and the local-use 64:ff9b:1::/48 with the
        // address at the /96 or the /48 position (RFC 6052).
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => out.push(last32),
        // Which position a local-use prefix uses is the operator's choice: an all-zero one is
        // the position not in use.
        [0x64, 0xff9b, 1, a, b, c, _, _] => {
            let at48 =
                Ipv4Addr::from(((a as u32) << 16) | ((b & 0x00ff) as u32) << 8 | (c >> 8) as u32);
            out.extend([last32, at48].into_iter().filter(|v4| !v4.is_unspecified()));
        }
        // 6to4: 2002:AABB:CCDD::/48.
        [0x2002, hi, lo, ..] => out.push(Ipv4Addr::from(((hi as u32) << 16) | lo as u32)),
        // Teredo: 2001:0::/32, the server's address, then the client's with its bits inverted.
        [0x2001, 0, hi, lo, ..] => {
            out.push(Ipv4Addr::from(((hi as u32) << 16) | lo as u32));
            out.push(Ipv4Addr::from(!u32::from(last32)));
        }
        _ => {}
    }
    out
}

fn is_metadata(ip: IpAddr) -> bool {
    const EC2_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    match ip {
        IpAddr::V4(v4) => {
            v4 == Ipv4Addr::new(169, 254, 169, 254) || v4 == Ipv4Addr::new(100, 100, 100, 200)
        }
        IpAddr::V6(v6) => v6 == EC2_V6,
    }
}

fn never_reachable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => v6.is_unicast_link_local() || v6.is_unspecified() || v6.is_multicast(),
    }
}

/// Loopback, private, shared, reserved and documentation ranges.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 192 && b == 0 && c == 2) // documentation
                || (a == 198 && b == 51 && c == 100) // documentation
                || (a == 203 && b == 0 && c == 113) // documentation
                || (a == 198 && (b & 0xfe) == 18) // benchmarking
                || a >= 240 // reserved
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] & 0xfff0) == 0x3ff0 // documentation (3fff::/20)
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64
        }
    }
}

/// How long the host's interface addresses are reused before they are read again.
const OWN_ADDRESSES_FRESH: Duration = Duration::from_secs(10);

/// The host's own interface addresses: loopback in effect, whatever their range.
fn own_addresses() -> Arc<HashSet<IpAddr>> {
    static CACHE: Mutex<Option<(Instant, Arc<HashSet<IpAddr>>)>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((at, set)) = cache.as_ref() {
        if at.elapsed() < OWN_ADDRESSES_FRESH {
            return set.clone();
        }
    }
    let set: HashSet<IpAddr> = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces.iter().flat_map(|i| judged_as(i.ip())).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the host's own addresses; the proxy judges them by range only");
            HashSet::new()
        }
    };
    let set = Arc::new(set);
    *cache = Some((Instant::now(), set.clone()));
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use Caller::{Trusted, Untrusted};

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn no_own() -> HashSet<IpAddr> {
        HashSet::new()
    }

    #[test]
    fn only_plain_http_urls_pass() {
        let open = Policy::default();
        assert!(open
            .check_url(&url("https://mcp.example.com/mcp"), Untrusted)
            .is_ok());
        assert_eq!(
            open.check_url(&url("file:///etc/passwd"), Trusted),
            Err(Refusal::Scheme("file".into()))
        );
        assert_eq!(
            open.check_url(&url("ftp://x.example/"), Trusted),
            Err(Refusal::Scheme("ftp".into()))
        );
        assert_eq!(
            open.check_url(&url("http://user:pw@x.example/"), Trusted),
            Err(Refusal::Credentials)
        );
        assert_eq!(
            open.check_url(&url("http://token@x.example/"), Trusted),
            Err(Refusal::Credentials)
        );
    }

    #[test]
    fn metadata_and_link_local_are_refused_even_to_a_trusted_caller_on_loopback() {
        let open = Policy::default();
        for refused in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://metadata.google.internal/",
            "http://METADATA.google.internal./",
        ] {
            assert!(
                matches!(
                    open.check_url(&url(refused), Trusted),
                    Err(Refusal::Metadata(_))
                ),
                "{refused}"
            );
        }
        for refused in [
            "169.254.1.1",
            "fe80::1",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "::ffff:169.254.1.1",
        ] {
            assert!(
                open.check_addr_with("h.example", ip(refused), Trusted, &no_own())
                    .is_err(),
                "{refused}"
            );
        }
        assert!(
            open.check_addr_with("metadata", ip("10.0.0.1"), Trusted, &no_own())
                .is_err(),
            "a metadata name is refused whatever it resolves to"
        );
    }

    /// Every IPv6 form of a refused IPv4 address is refused as that address; site-local,
    /// unique-local and documentation ranges are private.
    #[test]
    fn ipv6_forms_are_judged_as_the_ipv4_address_they_carry() {
        let loopback_bind = Policy::new(false, &[]).unwrap();
        for (form, expected) in [
            ("64:ff9b::a9fe:a9fe", "metadata"), // NAT64 of 169.254.169.254
            ("64:ff9b::7f00:1", "private"),     // NAT64 of 127.0.0.1
            ("64:ff9b:1::a00:1", "private"),    // local-use NAT64 of 10.0.0.1
            ("64:ff9b:1:a9fe:a9:fe00::", "metadata"), // local-use NAT64, /48 position
            ("2002:a9fe:a9fe::", "metadata"),   // 6to4
            ("2002:7f00:1::1", "private"),      // 6to4 of 127.0.0.1
            ("::127.0.0.1", "private"),         // IPv4-compatible
            ("::169.254.169.254", "metadata"),
            ("::ffff:0:7f00:1", "private"),  // IPv4-translated
            ("::ffff:127.0.0.1", "private"), // IPv4-mapped
            ("::ffff:a9fe:a9fe", "metadata"),
            ("2001:0:a9fe:a9fe::1", "metadata"), // Teredo server
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", "private"), // Teredo client 127.0.0.1
            ("fec0::1", "private"),              // site-local
            ("fd12:3456::1", "private"),         // unique local
            ("2001:db8::1", "private"),          // documentation
            ("3fff::1", "private"),
            ("192.0.2.1", "private"),
            ("198.51.100.7", "private"),
            ("203.0.113.9", "private"),
            ("198.18.0.1", "private"),
            ("240.0.0.1", "private"),
            ("::1", "private"),
        ] {
            let refusal = loopback_bind
                .check_addr_with("", ip(form), Untrusted, &no_own())
                .expect_err(form);
            let kind = match refusal {
                Refusal::Metadata(_) => "metadata",
                Refusal::Private(_) => "private",
                Refusal::NeverReachable(_) => "never",
                other => panic!("{form}: {other:?}"),
            };
            assert_eq!(kind, expected, "{form}");
        }
        for public in [
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2606:4700::1111",
            "8.8.8.8",
            "::ffff:8.8.8.8",
        ] {
            assert!(
                loopback_bind
                    .check_addr_with("", ip(public), Untrusted, &no_own())
                    .is_ok(),
                "{public}"
            );
        }
    }

    #[test]
    fn the_hosts_own_addresses_count_as_loopback() {
        let policy = Policy::new(false, &[]).unwrap();
        let own: HashSet<IpAddr> = [ip("93.184.216.34"), ip("2606:2800::1")].into();
        assert!(matches!(
            policy.check_addr_with("h", ip("93.184.216.34"), Untrusted, &own),
            Err(Refusal::Private(_))
        ));
        assert!(matches!(
            policy.check_addr_with("h", ip("::ffff:93.184.216.34"), Untrusted, &own),
            Err(Refusal::Private(_))
        ));
        assert!(
            policy
                .check_addr_with("h", ip("93.184.216.34"), Trusted, &own)
                .is_ok(),
            "admins on a loopback bind"
        );
        // The real list: every interface address of this machine is refused to a member.
        for interface in if_addrs::get_if_addrs().unwrap() {
            assert!(
                policy.check_addr("h", interface.ip(), Untrusted).is_err(),
                "{}",
                interface.ip()
            );
        }
    }

    #[test]
    fn private_ranges_are_open_to_trusted_callers_on_loopback_only() {
        let local = Policy::new(false, &[]).unwrap();
        let public = Policy::new(true, &[]).unwrap();
        for private in [
            "127.0.0.1",
            "::1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "fd12::1",
            "100.64.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(
                local
                    .check_addr_with("h", ip(private), Trusted, &no_own())
                    .is_ok(),
                "{private}"
            );
            assert!(
                matches!(
                    local.check_addr_with("h", ip(private), Untrusted, &no_own()),
                    Err(Refusal::Private(_))
                ),
                "{private}"
            );
            assert!(
                matches!(
                    public.check_addr_with("h", ip(private), Trusted, &no_own()),
                    Err(Refusal::Private(_))
                ),
                "{private}"
            );
        }
        assert!(public
            .check_addr_with("h", ip("93.184.216.34"), Untrusted, &no_own())
            .is_ok());
        assert!(
            public
                .check_addr_with("h", ip("172.32.0.1"), Untrusted, &no_own())
                .is_ok(),
            "just outside 172.16/12"
        );
    }

    #[test]
    fn the_allow_list_opens_private_hosts_and_networks_to_everyone_but_never_metadata() {
        let policy = Policy::new(
            true,
            &[
                "10.0.0.0/8".into(),
                "mcp.internal".into(),
                "192.168.1.7".into(),
                "169.254.0.0/16".into(),
            ],
        )
        .unwrap();
        let check =
            |host: &str, addr: &str| policy.check_addr_with(host, ip(addr), Untrusted, &no_own());
        assert!(check("any", "10.9.9.9").is_ok());
        assert!(check("MCP.internal.", "172.16.0.5").is_ok());
        assert!(check("other.internal", "172.16.0.5").is_err());
        assert!(check("", "192.168.1.7").is_ok());
        assert!(check("", "192.168.1.8").is_err());
        assert!(
            check("", "169.254.169.254").is_err(),
            "metadata stays refused"
        );
        assert!(
            check("", "169.254.1.1").is_err(),
            "link-local stays refused"
        );
    }

    #[test]
    fn a_malformed_allow_entry_is_an_error_that_names_it() {
        let err = Policy::new(true, &["10.0.0.0/33".into()]).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(Policy::new(true, &["http://x".into()]).is_err());
    }
}
