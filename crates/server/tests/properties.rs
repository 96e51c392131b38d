//! Property tests for the parsers of untrusted input in the HTTP layer: `If-Match` and
//! `If-None-Match`, `X-Forwarded-For` (with `TRUSTED_PROXIES` CIDRs) and JSON request bodies (durations: the one
//! parser's tests are in the jobs crate). None may panic, whatever the input; where a printer exists, what it
//! prints parses back to the same value.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, header};
use proptest::prelude::*;
use serde_json::{Map, Value};
use taskify_core::tasks::{IfMatch, etag};
use taskify_server::config::Cidr;
use taskify_server::http::client_ip::client_ip;
use taskify_server::http::conditional::{if_match, if_none_match};
use taskify_server::http::extract::parse_object;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// Header bytes as a client can send them: visible ASCII, spaces, tabs and obs-text.
fn header_text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff, Just(b'"'), Just(b',')], 0..40)
}

fn headers(name: header::HeaderName, value: &[u8]) -> Option<HeaderMap> {
    let value = HeaderValue::from_bytes(value).ok()?;
    let mut map = HeaderMap::new();
    map.insert(name, value);
    Some(map)
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![any::<[u8; 4]>().prop_map(IpAddr::from), any::<[u8; 16]>().prop_map(IpAddr::from)]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn conditional_headers_never_panic(value in header_text(), version in any::<i64>()) {
        if let Some(map) = headers(header::IF_MATCH, &value) {
            let _ = if_match(&map);
        }
        if let Some(map) = headers(header::IF_NONE_MATCH, &value) {
            let _ = if_none_match(&map, version);
        }
    }

    #[test]
    fn printed_etags_parse_back(versions in prop::collection::vec(any::<i64>(), 1..5), weak in any::<bool>()) {
        let list = versions.iter().map(|v| etag(*v)).collect::<Vec<_>>().join(", ");
        let map = headers(header::IF_MATCH, list.as_bytes());
        prop_assert!(map.is_some());
        let map = map.unwrap_or_default();
        match if_match(&map) {
            Ok(Some(IfMatch::Versions(parsed))) => prop_assert_eq!(parsed, versions.clone()),
            other => prop_assert!(false, "If-Match {list} parsed as {other:?}"),
        }
        // If-None-Match compares weakly: `W/"v"` matches version v.
        let first = versions[0];
        let tag = if weak { format!("W/{}", etag(first)) } else { etag(first) };
        let map = headers(header::IF_NONE_MATCH, tag.as_bytes()).unwrap_or_default();
        prop_assert!(if_none_match(&map, first));
    }

    #[test]
    fn entity_tags_may_hold_commas(opaque in prop::collection::vec("[!#-~]{0,8}", 1..4)) {
        // RFC 9110 `etagc` allows commas inside the quotes: the list is read quote to quote.
        let list = opaque.iter().map(|o| format!("\"{o}\"")).collect::<Vec<_>>().join(", ");
        let map = headers(header::IF_MATCH, list.as_bytes()).unwrap_or_default();
        let numeric: Vec<i64> = opaque.iter().filter_map(|o| o.parse().ok()).collect();
        match if_match(&map) {
            Ok(Some(IfMatch::Versions(parsed))) => prop_assert_eq!(parsed, numeric),
            other => prop_assert!(false, "If-Match {list} parsed as {other:?}"),
        }
    }

    #[test]
    fn forwarded_for_never_panics(
        peer in any_ip(),
        header in prop_oneof![any::<String>(), prop::collection::vec(any_ip(), 0..6)
            .prop_map(|ips| ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))],
        cidrs in prop::collection::vec(any::<String>(), 0..3),
    ) {
        let trusted: Vec<Cidr> = cidrs.iter().filter_map(|c| Cidr::parse(c)).collect();
        let ip = client_ip(peer, Some(&header), &trusted);
        // The answer is the peer or one of the addresses in the header.
        let listed = header.split(',').filter_map(|h| h.trim().parse::<IpAddr>().ok()).any(|h| h == ip);
        prop_assert!(ip == peer.to_canonical() || listed, "{ip} from {peer} / {header:?}");
    }

    #[test]
    fn forwarded_for_is_walked_from_the_right(
        client in any::<[u8; 4]>().prop_filter("outside 10/8", |a| a[0] != 10),
        proxies in prop::collection::vec(any::<[u8; 3]>(), 0..4),
    ) {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap_or_else(|| unreachable!())];
        let client = IpAddr::from(client);
        let mut hops = vec![client.to_string()];
        hops.extend(proxies.iter().map(|p| format!("10.{}.{}.{}", p[0], p[1], p[2])));
        let peer: IpAddr = "10.0.0.1".parse().unwrap_or_else(|_| unreachable!());
        prop_assert_eq!(client_ip(peer, Some(&hops.join(", ")), &trusted), client);
    }

    #[test]
    fn cidrs_never_panic_and_contain_their_network(text in any::<String>(), ip in any_ip(), prefix in 0u8..=128) {
        let _ = Cidr::parse(&text).map(|c| c.contains(ip));
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let cidr = Cidr::parse(&format!("{ip}/{}", prefix.min(max)));
        prop_assert!(cidr.is_some_and(|c| c.contains(ip)));
    }

    #[test]
    fn json_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_object(&bytes);
    }

    #[test]
    fn serialised_objects_parse_back(map in prop::collection::btree_map(any::<String>(), any::<String>(), 0..6)) {
        let object: Map<String, Value> = map.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let bytes = serde_json::to_vec(&object).unwrap_or_default();
        prop_assert_eq!(parse_object(&bytes).ok(), Some(object));
    }


}
