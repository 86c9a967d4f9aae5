//! The address rule: which IP addresses an outside URL may make us connect to.
//!
//! Pure functions, no I/O. The rule is "public unicast only": anything that reaches this
//! machine, the local network, the provider's network, or an address that is not routed on
//! the public internet at all is refused. IPv6 forms that carry an IPv4 address inside them
//! (mapped, compatible, NAT64, 6to4) are judged by that IPv4 address, because that is where
//! the packets end up.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether an outside URL must not make Colloquy connect to `ip`.
///
/// Refused: loopback, unspecified (`0.0.0.0/8`, `::`), RFC 1918 private, CGNAT
/// (`100.64.0.0/10`), link-local, IETF protocol assignments (`192.0.0.0/24`), documentation
/// (`192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`),
/// benchmarking (`198.18.0.0/15`, `2001:2::/48`), multicast, reserved `240.0.0.0/4` and
/// broadcast; in IPv6 everything outside global unicast `2000::/3` (so unique-local
/// `fc00::/7`, link-local `fe80::/10`, site-local `fec0::/10`, multicast `ff00::/8`,
/// discard `100::/64`, local-use NAT64 `64:ff9b:1::/48`), Teredo `2001::/32`, and the
/// mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4
/// (`2002::/16`) forms of any refused IPv4 address.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", including the unspecified 0.0.0.0 (Linux connects that to loopback)
        || a == 10 // RFC 1918
        || a == 127 // loopback
        || (a == 100 && (64..128).contains(&b)) // CGNAT, RFC 6598
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b)) // RFC 1918
        || (a == 192 && b == 168) // RFC 1918
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, RFC 2544
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast 255.255.255.255
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_forbidden_v4(v4);
    }
    let s = ip.segments();
    // Only 2000::/3 is global unicast; the rest is loopback, local, multicast or unassigned.
    if s[0] & 0xe000 != 0x2000 {
        return true;
    }
    match s {
        [0x2001, 0, ..] => true,      // Teredo: tunnels to an address we cannot see
        [0x2001, 0x0db8, ..] => true, // documentation
        [0x2001, 0x0002, 0, ..] => true, // benchmarking
        [g, ..] => g & 0xfff0 == 0x3ff0, // documentation 3fff::/20, RFC 9637
    }
}

/// The IPv4 address an IPv6 address stands for, for the forms that deliver to one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // IPv4-compatible ::a.b.c.d (also covers :: and ::1, as 0.0.0.0 and 0.0.0.1).
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        // IPv4-mapped ::ffff:a.b.c.d.
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        // IPv4-translated ::ffff:0:a.b.c.d (RFC 2765).
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        // NAT64 well-known prefix 64:ff9b::/96.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        // 6to4 2002:AABB:CCDD::/48 carries a.b.c.d in the second and third groups.
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// Host names that mean "this machine" whatever DNS says (RFC 6761 `localhost` and
/// `*.localhost`, plus the names common `/etc/hosts` files give to loopback).
pub(crate) fn is_localhost_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "localhost.localdomain"
        || host == "ip6-localhost"
        || host == "ip6-loopback"
}
