//! One DNS question over UDP (TCP when the answer is truncated), built and parsed with
//! hickory-proto: the probes' only way to ask a name server anything. Timeouts are modelled time
//! on the injected clock.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::clock::Clock;

/// What a name server answered for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `NOERROR`, `NXDOMAIN`, …
    pub rcode: String,
    /// The addresses at the end of any CNAME chain in the answer.
    pub addrs: Vec<IpAddr>,
    /// Every value in the answer section (CNAME targets included), in presentation format.
    pub values: Vec<String>,
    /// The smallest TTL in the answer section (what a cache may keep the whole answer for).
    pub ttl: u32,
}

/// Asks `server` for `name`'s A records. `recursion` sets RD (for recursive resolvers).
pub async fn query(
    clock: &Clock,
    server: SocketAddr,
    name: &str,
    recursion: bool,
    timeout: Duration,
) -> Result<Answer, String> {
    let name = Name::from_str(name).map_err(|e| format!("invalid name {name}: {e}"))?;
    let mut msg = Message::query();
    msg.metadata.recursion_desired = recursion;
    msg.add_query(Query::query(name, RecordType::A));
    let id = msg.metadata.id;
    let bytes = msg
        .to_vec()
        .map_err(|e| format!("cannot encode the query: {e}"))?;
    let exchange = async {
        let reply = udp(server, &bytes, id).await?;
        if reply.metadata.truncation {
            tcp(server, &bytes, id).await
        } else {
            Ok(reply)
        }
    };
    let reply = clock.timeout(timeout, exchange).await.ok_or_else(|| {
        format!(
            "no answer from {server} within {}",
            humantime::format_duration(timeout)
        )
    })??;
    Ok(parse(&reply))
}

async fn udp(server: SocketAddr, bytes: &[u8], id: u16) -> Result<Message, String> {
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    socket
        .connect(server)
        .await
        .map_err(|e| format!("cannot reach {server}: {e}"))?;
    socket
        .send(bytes)
        .await
        .map_err(|e| format!("cannot send to {server}: {e}"))?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = socket
            .recv(&mut buf)
            .await
            .map_err(|e| format!("{server}: {e}"))?;
        match Message::from_vec(&buf[..n]) {
            // Anything else is a stray or spoofed datagram: keep waiting for ours.
            Ok(m) if m.metadata.id == id => return Ok(m),
            _ => continue,
        }
    }
}

async fn tcp(server: SocketAddr, bytes: &[u8], id: u16) -> Result<Message, String> {
    let mut stream = TcpStream::connect(server)
        .await
        .map_err(|e| format!("cannot connect to {server}: {e}"))?;
    let len = u16::try_from(bytes.len()).map_err(|_| "query too long".to_string())?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| format!("{server}: {e}"))?;
    let mut len = [0u8; 2];
    stream
        .read_exact(&mut len)
        .await
        .map_err(|e| format!("{server}: {e}"))?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream
        .read_exact(&mut buf)
        .await
        .map_err(|e| format!("{server}: {e}"))?;
    let m = Message::from_vec(&buf).map_err(|e| format!("{server}: bad answer: {e}"))?;
    if m.metadata.id != id {
        return Err(format!("{server}: answer to another query"));
    }
    Ok(m)
}

fn parse(reply: &Message) -> Answer {
    let mut addrs = Vec::new();
    let mut values = Vec::new();
    let mut ttl = u32::MAX;
    for record in &reply.answers {
        ttl = ttl.min(record.ttl);
        match &record.data {
            RData::A(a) => {
                addrs.push(IpAddr::V4(a.0));
                values.push(a.0.to_string());
            }
            RData::AAAA(a) => {
                addrs.push(IpAddr::V6(a.0));
                values.push(a.0.to_string());
            }
            RData::CNAME(c) => values.push(c.0.to_string()),
            _ => {}
        }
    }
    if reply.answers.is_empty() {
        ttl = 0;
    }
    Answer {
        rcode: rcode(reply.metadata.response_code),
        addrs,
        values,
        ttl,
    }
}

fn rcode(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".to_string(),
        ResponseCode::NXDomain => "NXDOMAIN".to_string(),
        ResponseCode::ServFail => "SERVFAIL".to_string(),
        ResponseCode::Refused => "REFUSED".to_string(),
        other => format!("{other:?}").to_ascii_uppercase(),
    }
}

/// `host`, `host:port`, `ip` or `ip:port` → addresses (port 53 unless given). Host names are
/// looked up with the system resolver.
pub async fn server_addrs(server: &str) -> Result<Vec<SocketAddr>, String> {
    if let Ok(addr) = server.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    if let Ok(ip) = server.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, 53)]);
    }
    let (host, port) = match server.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("bad port in {server}"))?,
        ),
        None => (server, 53),
    };
    let host = host.trim_end_matches('.');
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve name server {host}: {e}"))?
        .collect();
    if found.is_empty() {
        return Err(format!("name server {host} has no address"));
    }
    Ok(found)
}

/// The recursive resolvers in `/etc/resolv.conf` (what a client on this host would ask).
pub fn system_resolvers() -> Vec<SocketAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}
