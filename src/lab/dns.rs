//! The lab's authoritative DNS server (hickory-server, UDP and TCP on loopback), answering from
//! the published Route 53 state: answers change only when a change is INSYNC or the checkers'
//! view of health changes. The client's region for latency records comes from the EDNS client
//! subnet (or the query's source address) when it is one of the regional app addresses
//! (127.0.0.11 → the first region, …); otherwise the primary region.
//!
//! Responses fit the client's limit ([`response_limit`]): one that does not is cut at a whole
//! record, from the end of the message, with TC set and the header counting what was sent.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_server::proto::rr::{Name, RData, Record};
use hickory_server::proto::serialize::binary::BinEncoder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use rand::Rng;
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

use super::answer::{Outcome, Rr};
use super::route53_api::weighted_index;
use super::shared::Shared;

/// The largest UDP response the lab's name server sends, and the payload size its OPT record
/// advertises: 1,232 bytes, the size DNS Flag Day 2020 settled on to stay clear of IP fragmentation.
const UDP_PAYLOAD: u16 = 1232;

pub struct DnsHandler {
    shared: Arc<Shared>,
}

/// Serves DNS on both sockets until `shutdown` is cancelled.
pub async fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let mut server = Server::new(DnsHandler { shared });
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 65_535);
    shutdown.cancelled().await;
    if let Err(e) = server.shutdown_gracefully().await {
        tracing::debug!(error = %e, "lab DNS server stopped");
    }
}

enum Reply {
    Silent,
    Answer(Metadata, Vec<Record>, Vec<Record>),
}

impl DnsHandler {
    fn answer(&self, request: &Request) -> Reply {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        let Ok(info) = request.request_info() else {
            metadata.response_code = ResponseCode::FormErr;
            return Reply::Answer(metadata, vec![], vec![]);
        };
        let qname = info.query.name().to_string();
        let qtype = info.query.query_type().to_string();
        let subnet = request
            .edns
            .as_ref()
            .and_then(|e| match e.option(EdnsCode::Subnet) {
                Some(EdnsOption::Subnet(s)) => Some(s.addr()),
                _ => None,
            });
        let mut world = self.shared.world();
        if world.dns_silent {
            return Reply::Silent;
        }
        let client_region = subnet
            .and_then(|ip| world.region_of_ip(ip))
            .or_else(|| world.region_of_ip(request.src().ip()));
        let rolls: Vec<f64> = (0..8).map(|_| world.rng.random::<f64>()).collect();
        let mut rolls = rolls.into_iter();
        let mut pick = |weights: &[i64]| weighted_index(weights, rolls.next().unwrap_or(0.0));
        let outcome = world
            .served()
            .resolve(&qname, &qtype, client_region.as_deref(), &mut pick);
        drop(world);
        metadata.authoritative = !matches!(outcome, Outcome::Refused);
        match outcome {
            Outcome::Refused => {
                metadata.response_code = ResponseCode::Refused;
                Reply::Answer(metadata, vec![], vec![])
            }
            Outcome::NxDomain { soa } => {
                metadata.response_code = ResponseCode::NXDomain;
                Reply::Answer(metadata, vec![], records(&[soa]))
            }
            Outcome::NoData { soa } => Reply::Answer(metadata, vec![], records(&[soa])),
            Outcome::Answer { records: rrs, .. } => Reply::Answer(metadata, records(&rrs), vec![]),
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for DnsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let (metadata, answers, soa) = match self.answer(request) {
            // The `dns-silent` fault: no answer at all, the client times out.
            Reply::Silent => {
                let metadata = Metadata::response_from_request(&request.metadata);
                return ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                });
            }
            Reply::Answer(metadata, answers, soa) => (metadata, answers, soa),
        };
        let mut edns = Edns::new();
        edns.set_max_payload(UDP_PAYLOAD);
        // Echo the client subnet, scoped to what the client sent, as Route 53 does.
        if let Some(EdnsOption::Subnet(subnet)) = request
            .edns
            .as_ref()
            .and_then(|e| e.option(EdnsCode::Subnet))
        {
            let mut echo = *subnet;
            echo.set_scope_prefix(subnet.source_prefix());
            edns.options_mut().insert(EdnsOption::Subnet(echo));
        }
        let edns = request.edns.is_some().then_some(&edns);
        let (metadata, answers, soa) = fit(request, metadata, edns, &answers, &soa);
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = edns {
            builder.edns(edns);
        }
        let response = builder.build(metadata, answers, [].iter(), soa, [].iter());
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "lab DNS server could not send a response");
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}

/// The most bytes a response to `request` may take: over UDP 512 without EDNS (RFC 1035 4.2.1),
/// else the payload size the client advertises, read as at least 512 (RFC 6891 6.2.5) and at most
/// [`UDP_PAYLOAD`]; over TCP 65,535, the most its length prefix can say.
fn response_limit(request: &Request) -> usize {
    match request.protocol() {
        Protocol::Udp => usize::from(request.max_payload().min(UDP_PAYLOAD)),
        _ => usize::from(u16::MAX),
    }
}

/// The response to `request` cut to [`response_limit`]: whole records only, dropped from the end of
/// the message (authority, then answer), with TC set when any was dropped. hickory's encoder,
/// left to truncate on its own, would leave the part of a record that overflowed behind the last
/// whole one, and could drop the OPT record instead of an answer; so each candidate is measured with
/// hickory's encoder, and only a message that fits is handed to it.
fn fit<'r>(
    request: &Request,
    mut metadata: Metadata,
    edns: Option<&Edns>,
    answers: &'r [Record],
    authority: &'r [Record],
) -> (
    Metadata,
    std::slice::Iter<'r, Record>,
    std::slice::Iter<'r, Record>,
) {
    let limit = response_limit(request);
    let split = |kept: usize| {
        let in_answers = kept.min(answers.len());
        (&answers[..in_answers], &authority[..kept - in_answers])
    };
    let fits = |kept: usize| {
        let (answers, authority) = split(kept);
        encoded_len(request, metadata, edns, answers, authority).is_some_and(|n| n <= limit)
    };
    let all = answers.len() + authority.len();
    let kept = if fits(all) {
        all
    } else {
        // The largest count that fits: the length only grows with each record kept.
        let (mut fitting, mut too_many) = (0, all);
        while too_many - fitting > 1 {
            let mid = fitting + (too_many - fitting) / 2;
            if fits(mid) {
                fitting = mid;
            } else {
                too_many = mid;
            }
        }
        fitting
    };
    metadata.truncation |= kept < all;
    let (answers, authority) = split(kept);
    (metadata, answers.iter(), authority.iter())
}

/// The length of the response hickory would encode, or None if it cannot encode it at all.
fn encoded_len(
    request: &Request,
    metadata: Metadata,
    edns: Option<&Edns>,
    answers: &[Record],
    authority: &[Record],
) -> Option<usize> {
    let mut builder = MessageResponseBuilder::from_message_request(request);
    if let Some(edns) = edns {
        builder.edns(edns);
    }
    let response = builder.build(metadata, answers, [].iter(), authority, [].iter());
    let mut bytes = Vec::new();
    let mut encoder = BinEncoder::new(&mut bytes);
    let info = response.destructive_emit(&mut encoder).ok()?;
    // A record hickory had to leave out means the message did not fit either.
    (!info.truncation).then_some(bytes.len())
}

/// Presentation-format records as wire records; values the lab cannot encode are left out.
fn records(rrs: &[Rr]) -> Vec<Record> {
    rrs.iter()
        .filter_map(|rr| {
            let name = Name::from_str(&rr.name).ok()?;
            Some(Record::from_rdata(
                name,
                rr.ttl,
                rdata(&rr.rtype, &rr.value)?,
            ))
        })
        .collect()
}

fn rdata(rtype: &str, value: &str) -> Option<RData> {
    let name = |s: &str| Name::from_str(s.trim()).ok();
    let fields: Vec<&str> = value.split_whitespace().collect();
    Some(match rtype {
        "A" => RData::A(A(Ipv4Addr::from_str(value.trim()).ok()?)),
        "AAAA" => RData::AAAA(AAAA(Ipv6Addr::from_str(value.trim()).ok()?)),
        "CNAME" => RData::CNAME(CNAME(name(value)?)),
        "NS" => RData::NS(NS(name(value)?)),
        "PTR" => RData::PTR(PTR(name(value)?)),
        "MX" => match fields.as_slice() {
            [pref, host] => RData::MX(MX::new(pref.parse().ok()?, name(host)?)),
            _ => return None,
        },
        "SRV" => match fields.as_slice() {
            [prio, weight, port, target] => RData::SRV(SRV::new(
                prio.parse().ok()?,
                weight.parse().ok()?,
                port.parse().ok()?,
                name(target)?,
            )),
            _ => return None,
        },
        "SOA" => match fields.as_slice() {
            [mname, rname, serial, refresh, retry, expire, minimum] => RData::SOA(SOA::new(
                name(mname)?,
                name(rname)?,
                serial.parse().ok()?,
                refresh.parse().ok()?,
                retry.parse().ok()?,
                expire.parse().ok()?,
                minimum.parse().ok()?,
            )),
            _ => return None,
        },
        "TXT" | "SPF" => RData::TXT(TXT::new(txt_strings(value))),
        _ => return None,
    })
}

/// `"a b" "c"` → [`a b`, `c`]; unquoted text is one string.
fn txt_strings(value: &str) -> Vec<String> {
    if !value.trim_start().starts_with('"') {
        return vec![value.to_string()];
    }
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for ch in value.chars() {
        match (quoted, escaped, ch) {
            (true, true, c) => {
                current.push(c);
                escaped = false;
            }
            (true, false, '\\') => escaped = true,
            (true, false, '"') => {
                out.push(std::mem::take(&mut current));
                quoted = false;
            }
            (true, false, c) => current.push(c),
            (false, _, '"') => quoted = true,
            (false, _, _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presentation_values_become_rdata() {
        assert!(matches!(rdata("A", "127.0.0.11"), Some(RData::A(_))));
        assert!(rdata("A", "nope").is_none());
        assert!(matches!(
            rdata("MX", "10 mail.example.com."),
            Some(RData::MX(_))
        ));
        assert!(matches!(
            rdata(
                "SOA",
                "ns-1.lab. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
            ),
            Some(RData::SOA(_))
        ));
        assert_eq!(txt_strings("\"a b\" \"c\\\"d\""), ["a b", "c\"d"]);
        assert_eq!(txt_strings("plain"), ["plain"]);
    }
}
