//! `[probes]` (DNS, HTTP and write-canary probes), the `[slo]` keys that judge what they measure,
//! and `[stop]`, the conditions that abort a drill while it runs. Everything here needs probes:
//! an SLO or stop condition whose probe is not configured is an error, not a silent no-op.

use std::time::Duration;

use serde::Serialize;
use toml::de::DeValue;

use super::checks;
use super::drill::check;
use super::reader::{At, Field, Reader, Table};

/// The `[slo]` keys read here (the rest of `[slo]` is read in `drill.rs`).
pub(super) const SLO_KEYS: &[&str] = &[
    "max_dns_cutover",
    "max_traffic_shift",
    "max_lost_writes",
    "max_rpo",
    "max_error_rate",
    "max_p99_latency",
];

const PROBE_KEYS: &[&str] = &[
    "interval",
    "timeout",
    "baseline",
    "baseline_error_rate",
    "shift_share",
    "shift_window",
    "dns",
    "http",
    "canary",
];
/// The `[stop]` keys that judge probe data (the alarm keys are read in `alarms.rs`).
const PROBE_STOP_KEYS: &[&str] = &["error_rate", "window", "traffic_deadline"];

/// Every key `[stop]` may carry.
pub(super) const STOP_KEYS: &[&str] = &[
    "error_rate",
    "window",
    "traffic_deadline",
    "alarms",
    "alarm_interval",
];

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// Below this the probes measure their own scheduling more than the service.
pub const MIN_INTERVAL: Duration = Duration::from_millis(50);
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_BASELINE: Duration = Duration::from_secs(30);
pub const DEFAULT_BASELINE_ERROR_RATE: f64 = 0.01;
pub const DEFAULT_SHIFT_SHARE: f64 = 0.95;
pub const DEFAULT_SHIFT_WINDOW: usize = 10;
pub const DEFAULT_STOP_WINDOW: Duration = Duration::from_secs(30);
/// Requests per second the HTTP probe may be asked for (one every 50 ms).
pub const MAX_RATE: i64 = 20;

const DURATION: &str = "a duration string such as \"1s\"";
const PERCENT: &str = "a percentage string such as \"1%\"";

/// What the probes sample and how they judge what they see.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probes {
    /// Default sampling interval (DNS and canary; HTTP unless `rate` is set).
    pub interval: Duration,
    /// Longest wait for one probe's answer; a probe that takes longer counts as an error.
    pub timeout: Duration,
    /// Steady state: how long preflight watches the service before the first change.
    pub baseline: Duration,
    /// Highest HTTP error rate (0..=1) the baseline may show.
    pub baseline_error_rate: f64,
    /// Share (0..=1) of HTTP probes in the sliding window that must reach the target region for
    /// traffic to count as moved.
    pub shift_share: f64,
    /// The sliding window, in HTTP samples.
    pub shift_window: usize,
    pub dns: Option<DnsProbe>,
    pub http: Option<HttpProbe>,
    pub canary: Option<CanaryProbe>,
    pub slo: ProbeSlos,
    pub stop: StopConditions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsProbe {
    /// Fully qualified, lower case, trailing dot.
    pub names: Vec<String>,
    /// `host` or `host:port`; empty means the hosted zones' delegation sets.
    pub name_servers: Vec<String>,
    /// Recursive resolvers to watch as well (`host` or `host:port`).
    pub resolvers: Vec<String>,
    /// `[probes.dns.test_dns_answer]`: Route 53's own view as well.
    pub test_dns_answer: Option<TestDnsAnswerView>,
}

/// Route 53 TestDNSAnswer as an extra DNS view: what Route 53 answers from its configuration for
/// clients at given addresses, the way to see latency (and geo) records from several places.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestDnsAnswerView {
    /// Client addresses sent as the EDNS client subnet, one view each; empty: one view without.
    pub client_ips: Vec<String>,
    pub interval: Duration,
}

/// TestDNSAnswer shares Route 53's 5 requests/s with the drill's own calls: ask slowly.
pub const DEFAULT_TEST_DNS_ANSWER_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpProbe {
    pub url: String,
    pub region: RegionFrom,
    pub interval: Duration,
}

/// Where an HTTP answer says which region served it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "from", content = "name")]
pub enum RegionFrom {
    Header(String),
    /// A top-level string field of a JSON body.
    JsonField(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CanaryProbe {
    pub write_url: String,
    pub read_url: String,
}

/// SLO targets on probe measurements; each applies to the failover and to the fail-back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeSlos {
    pub max_dns_cutover: Option<Duration>,
    pub max_traffic_shift: Option<Duration>,
    /// None: 0 for a switchover (it promises RPO 0), no target for a failover.
    pub max_lost_writes: Option<u64>,
    pub max_rpo: Option<Duration>,
    /// 0..=1, over every HTTP probe from the first change to the last restore.
    pub max_error_rate: Option<f64>,
    pub max_p99_latency: Option<Duration>,
}

/// Conditions that abort the drill and roll it back while it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StopConditions {
    /// Abort when the HTTP error rate over `window` exceeds this (0..=1).
    pub error_rate: Option<f64>,
    pub window: Duration,
    /// Abort when traffic has not moved this long after a routing change.
    pub traffic_deadline: Option<Duration>,
}

/// Reads `[probes]`, its `[slo]` keys and the probe keys of `[stop]` (read, with its keys
/// checked, by the caller). Some(None) when there are no probes (and nothing that needs them);
/// None when something is wrong.
pub(super) fn read(r: &mut Reader, root: &Table, stop: Option<&Table>) -> Option<Option<Probes>> {
    let table = r.table(root, "probes", "a table [probes]");
    let slo = match r.table(root, "slo", "a table [slo]") {
        Field::Present(t) => Some(t),
        _ => None,
    };
    let probes = match table {
        Field::Present(t) => t,
        Field::Invalid => return None,
        Field::Absent => {
            // Nothing may need probes that are not there.
            let mut ok = true;
            for (table, keys) in [(slo.as_ref(), SLO_KEYS), (stop, PROBE_STOP_KEYS)] {
                let Some(t) = table else { continue };
                for key in keys {
                    if let Some(v) = t.map.get(*key) {
                        ok = false;
                        r.conflict(
                            v.span(),
                            t.key(key),
                            format!("{} measures with probes, but there is no [probes] table; add [probes] with the probe it needs", t.key(key)),
                        );
                    }
                }
            }
            return ok.then_some(None);
        }
    };
    r.keys(&probes, PROBE_KEYS);
    let interval = match duration(r, &probes, "interval", false) {
        Field::Present(d) => bounded(r, &probes, "interval", d, MIN_INTERVAL, MAX_INTERVAL),
        Field::Absent => Some(DEFAULT_INTERVAL),
        Field::Invalid => None,
    };
    let timeout = match duration(r, &probes, "timeout", false) {
        Field::Present(d) => bounded(
            r,
            &probes,
            "timeout",
            d,
            MIN_INTERVAL,
            Duration::from_secs(30),
        ),
        Field::Absent => Some(DEFAULT_TIMEOUT),
        Field::Invalid => None,
    };
    let baseline = or(
        duration(r, &probes, "baseline", true),
        DEFAULT_BASELINE,
        |d| d,
    );
    let baseline_error_rate = or(
        percent(r, &probes, "baseline_error_rate"),
        DEFAULT_BASELINE_ERROR_RATE,
        |p| p,
    );
    let shift_share = match percent(r, &probes, "shift_share") {
        Field::Present(At { value: 0.0, span }) => {
            r.error(
                span,
                probes.key("shift_share"),
                "shift_share must be more than 0%: traffic would count as moved before it moved",
            );
            None
        }
        other => or(other, DEFAULT_SHIFT_SHARE, |p| p),
    };
    let shift_window = match r.integer(&probes, "shift_window", "a whole number of HTTP samples") {
        Field::Present(w) if (1..=1000).contains(&w.value) => Some(w.value as usize),
        Field::Present(w) => {
            r.error(
                w.span,
                probes.key("shift_window"),
                format!(
                    "shift_window {} is out of range: 1 to 1000 samples",
                    w.value
                ),
            );
            None
        }
        Field::Absent => Some(DEFAULT_SHIFT_WINDOW),
        Field::Invalid => None,
    };
    let dns = read_dns(r, &probes);
    let http = read_http(r, &probes, interval);
    let canary = read_canary(r, &probes);
    if let (Some(None), Some(None), Some(None)) = (&dns, &http, &canary) {
        r.conflict(
            probes.span.clone(),
            probes.path.clone(),
            "[probes] configures no probe; add [probes.dns], [probes.http] or [probes.canary]",
        );
    }
    let (has_dns, has_http, has_canary) = (
        matches!(dns, Some(Some(_))),
        matches!(http, Some(Some(_))),
        matches!(canary, Some(Some(_))),
    );
    let needs = |r: &mut Reader, table: &Table, key: &str, present: bool, probe: &str| {
        if let Some(v) = table.map.get(key)
            && !present
        {
            r.conflict(
                v.span(),
                table.key(key),
                format!(
                    "{} is measured by the {probe} probe; add [probes.{probe}]",
                    table.key(key)
                ),
            );
        }
    };
    let slo = match &slo {
        Some(t) => {
            needs(r, t, "max_dns_cutover", has_dns, "dns");
            for key in ["max_traffic_shift", "max_error_rate", "max_p99_latency"] {
                needs(r, t, key, has_http, "http");
            }
            for key in ["max_lost_writes", "max_rpo"] {
                needs(r, t, key, has_canary, "canary");
            }
            read_slos(r, t)
        }
        None => Some(ProbeSlos {
            max_dns_cutover: None,
            max_traffic_shift: None,
            max_lost_writes: None,
            max_rpo: None,
            max_error_rate: None,
            max_p99_latency: None,
        }),
    };
    let stop = match stop {
        Some(t) => {
            for key in ["error_rate", "traffic_deadline"] {
                needs(r, t, key, has_http, "http");
            }
            read_stop(r, t)
        }
        None => Some(StopConditions {
            error_rate: None,
            window: DEFAULT_STOP_WINDOW,
            traffic_deadline: None,
        }),
    };
    Some(Some(Probes {
        interval: interval?,
        timeout: timeout?,
        baseline: baseline?,
        baseline_error_rate: baseline_error_rate?,
        shift_share: shift_share?,
        shift_window: shift_window?,
        dns: dns?,
        http: http?,
        canary: canary?,
        slo: slo?,
        stop: stop?,
    }))
}

fn read_dns(r: &mut Reader, probes: &Table) -> Option<Option<DnsProbe>> {
    let t = match r.table(probes, "dns", "a table [probes.dns]") {
        Field::Present(t) => t,
        Field::Absent => return Some(None),
        Field::Invalid => return None,
    };
    r.keys(
        &t,
        &["names", "name_servers", "resolvers", "test_dns_answer"],
    );
    let names = match strings(r, &t, "names") {
        Field::Present(names) if names.value.is_empty() => {
            r.error(
                names.span,
                t.key("names"),
                "names is empty; list the names whose answers the probe watches",
            );
            None
        }
        Field::Present(names) => {
            let mut out = Vec::new();
            let mut ok = true;
            for name in names.value {
                match checks::dns_name(&name.value, false) {
                    Ok(n) => out.push(n),
                    Err(e) => {
                        ok = false;
                        r.error(name.span, t.key("names"), e);
                    }
                }
            }
            ok.then_some(out)
        }
        Field::Absent => {
            r.missing(
                &t,
                "names",
                "missing required key `names` (the record names to query, e.g. [\"api.example.com\"])",
            );
            None
        }
        Field::Invalid => None,
    };
    let servers = |r: &mut Reader, key: &str| match strings(r, &t, key) {
        Field::Present(list) => {
            let mut out = Vec::new();
            let mut ok = true;
            for s in list.value {
                match server(&s.value) {
                    Ok(()) => out.push(s.value),
                    Err(e) => {
                        ok = false;
                        r.error(s.span, t.key(key), e);
                    }
                }
            }
            ok.then_some(out)
        }
        Field::Absent => Some(Vec::new()),
        Field::Invalid => None,
    };
    let name_servers = servers(r, "name_servers");
    let resolvers = servers(r, "resolvers");
    let test_dns_answer = read_test_dns_answer(r, &t);
    Some(Some(DnsProbe {
        names: names?,
        name_servers: name_servers?,
        resolvers: resolvers?,
        test_dns_answer: test_dns_answer?,
    }))
}

fn read_test_dns_answer(r: &mut Reader, dns: &Table) -> Option<Option<TestDnsAnswerView>> {
    let t = match r.table(
        dns,
        "test_dns_answer",
        "a table [probes.dns.test_dns_answer]",
    ) {
        Field::Present(t) => t,
        Field::Absent => return Some(None),
        Field::Invalid => return None,
    };
    r.keys(&t, &["client_ips", "interval"]);
    let client_ips = match strings(r, &t, "client_ips") {
        Field::Present(list) => {
            let mut out: Vec<String> = Vec::new();
            let mut ok = true;
            for ip in list.value {
                match ip.value.parse::<std::net::IpAddr>() {
                    Ok(_) if out.contains(&ip.value) => {
                        ok = false;
                        r.error(
                            ip.span,
                            t.key("client_ips"),
                            format!("{} is listed twice", ip.value),
                        );
                    }
                    Ok(_) => out.push(ip.value),
                    Err(_) => {
                        ok = false;
                        r.error(
                            ip.span,
                            t.key("client_ips"),
                            format!(
                                "\"{}\" is not an IP address (TestDNSAnswer takes a client address, e.g. \"203.0.113.10\")",
                                ip.value.escape_debug()
                            ),
                        );
                    }
                }
            }
            ok.then_some(out)
        }
        Field::Absent => Some(Vec::new()),
        Field::Invalid => None,
    };
    let interval = match duration(r, &t, "interval", false) {
        Field::Present(d) => bounded(
            r,
            &t,
            "interval",
            d,
            Duration::from_secs(1),
            Duration::from_secs(300),
        ),
        Field::Absent => Some(DEFAULT_TEST_DNS_ANSWER_INTERVAL),
        Field::Invalid => None,
    };
    Some(Some(TestDnsAnswerView {
        client_ips: client_ips?,
        interval: interval?,
    }))
}

fn read_http(
    r: &mut Reader,
    probes: &Table,
    interval: Option<Duration>,
) -> Option<Option<HttpProbe>> {
    let t = match r.table(probes, "http", "a table [probes.http]") {
        Field::Present(t) => t,
        Field::Absent => return Some(None),
        Field::Invalid => return None,
    };
    r.keys(&t, &["url", "region_header", "region_field", "rate"]);
    let url = required_url(
        r,
        &t,
        "url",
        "the service URL to request, e.g. \"https://api.example.com/healthz\"",
    );
    let header = r.string(&t, "region_header", "a header name as a string");
    let field = r.string(&t, "region_field", "a JSON field name as a string");
    let region = match (header, field) {
        (Field::Present(h), Field::Present(f)) => {
            r.conflict(
                f.span,
                t.key("region_field"),
                format!(
                    "region_field and region_header ({}) are both set; the serving region comes from one of them",
                    h.value
                ),
            );
            None
        }
        (Field::Present(h), Field::Absent) => header_name(&h.value)
            .map_err(|e| r.error(h.span, t.key("region_header"), e))
            .ok()
            .map(|()| RegionFrom::Header(h.value.to_ascii_lowercase())),
        (Field::Absent, Field::Present(f)) if f.value.trim().is_empty() => {
            r.error(f.span, t.key("region_field"), "region_field is empty");
            None
        }
        (Field::Absent, Field::Present(f)) => Some(RegionFrom::JsonField(f.value)),
        (Field::Absent, Field::Absent) => {
            r.missing(
                &t,
                "region_header",
                "missing `region_header` or `region_field`: how an answer says which region served it",
            );
            None
        }
        _ => None,
    };
    let interval = match r.integer(&t, "rate", "a whole number of requests per second") {
        Field::Present(rate) if (1..=MAX_RATE).contains(&rate.value) => {
            Some(Duration::from_secs(1) / rate.value as u32)
        }
        Field::Present(rate) => {
            r.error(
                rate.span,
                t.key("rate"),
                format!(
                    "rate {} is out of range: 1 to {MAX_RATE} requests per second (one every {} at most)",
                    rate.value,
                    checks::show(MIN_INTERVAL)
                ),
            );
            None
        }
        Field::Absent => interval,
        Field::Invalid => None,
    };
    Some(Some(HttpProbe {
        url: url?,
        region: region?,
        interval: interval?,
    }))
}

fn read_canary(r: &mut Reader, probes: &Table) -> Option<Option<CanaryProbe>> {
    let t = match r.table(probes, "canary", "a table [probes.canary]") {
        Field::Present(t) => t,
        Field::Absent => return Some(None),
        Field::Invalid => return None,
    };
    r.keys(&t, &["write_url", "read_url"]);
    let write = required_url(r, &t, "write_url", "the URL that accepts POST {\"seq\": N}");
    let read = match r.string(&t, "read_url", "a URL as a string") {
        Field::Present(u) => check(r, &t, "read_url", &u, url(&u.value)).map(|()| Some(u.value)),
        Field::Absent => Some(None),
        Field::Invalid => None,
    };
    let write = write?;
    Some(Some(CanaryProbe {
        read_url: read?.unwrap_or_else(|| write.clone()),
        write_url: write,
    }))
}

fn read_slos(r: &mut Reader, t: &Table) -> Option<ProbeSlos> {
    let cutover = duration(r, t, "max_dns_cutover", false);
    let shift = duration(r, t, "max_traffic_shift", false);
    let rpo = duration(r, t, "max_rpo", true);
    let p99 = duration(r, t, "max_p99_latency", false);
    let rate = percent(r, t, "max_error_rate");
    let lost = match r.integer(t, "max_lost_writes", "a whole number of writes") {
        Field::Present(n) if n.value >= 0 => Some(Some(n.value as u64)),
        Field::Present(n) => {
            r.error(
                n.span,
                t.key("max_lost_writes"),
                "max_lost_writes must be 0 or more",
            );
            None
        }
        Field::Absent => Some(None),
        Field::Invalid => None,
    };
    let opt = |f: Field<At<Duration>>| match f {
        Field::Present(d) => Some(Some(d.value)),
        Field::Absent => Some(None),
        Field::Invalid => None,
    };
    Some(ProbeSlos {
        max_dns_cutover: opt(cutover)?,
        max_traffic_shift: opt(shift)?,
        max_lost_writes: lost?,
        max_rpo: opt(rpo)?,
        max_error_rate: match rate {
            Field::Present(p) => Some(p.value),
            Field::Absent => None,
            Field::Invalid => return None,
        },
        max_p99_latency: opt(p99)?,
    })
}

fn read_stop(r: &mut Reader, t: &Table) -> Option<StopConditions> {
    let rate = match percent(r, t, "error_rate") {
        Field::Present(p) => Some(Some(p.value)),
        Field::Absent => Some(None),
        Field::Invalid => None,
    };
    let window = or(duration(r, t, "window", false), DEFAULT_STOP_WINDOW, |d| d);
    let deadline = match duration(r, t, "traffic_deadline", false) {
        Field::Present(d) => Some(Some(d.value)),
        Field::Absent => Some(None),
        Field::Invalid => None,
    };
    if let (Some(w), None) = (t.map.get("window"), t.map.get("error_rate")) {
        r.conflict(
            w.span(),
            t.key("window"),
            "window is the span stop.error_rate is judged over, which is not set; remove it or set error_rate",
        );
    }
    Some(StopConditions {
        error_rate: rate?,
        window: window?,
        traffic_deadline: deadline?,
    })
}

/// A duration key; `zero_ok` allows `"0s"`.
pub(super) fn duration(r: &mut Reader, t: &Table, key: &str, zero_ok: bool) -> Field<At<Duration>> {
    match r.string(t, key, DURATION) {
        Field::Present(d) => {
            let parsed = if zero_ok {
                checks::duration(&d.value)
            } else {
                checks::positive_duration(&d.value)
            };
            match check(r, t, key, &d, parsed) {
                Some(value) => Field::Present(At {
                    value,
                    span: d.span,
                }),
                None => Field::Invalid,
            }
        }
        Field::Absent => Field::Absent,
        Field::Invalid => Field::Invalid,
    }
}

pub(super) fn bounded(
    r: &mut Reader,
    t: &Table,
    key: &str,
    d: At<Duration>,
    min: Duration,
    max: Duration,
) -> Option<Duration> {
    if d.value < min || d.value > max {
        r.error(
            d.span,
            t.key(key),
            format!(
                "{key} {} is out of range: {} to {}",
                checks::show(d.value),
                checks::show(min),
                checks::show(max)
            ),
        );
        return None;
    }
    Some(d.value)
}

fn or<T, U>(field: Field<At<T>>, default: U, f: impl FnOnce(T) -> U) -> Option<U> {
    match field {
        Field::Present(v) => Some(f(v.value)),
        Field::Absent => Some(default),
        Field::Invalid => None,
    }
}

/// `"1%"`, `"0.5%"`, `"100%"` → a fraction in 0..=1.
fn percent(r: &mut Reader, t: &Table, key: &str) -> Field<At<f64>> {
    match r.string(t, key, PERCENT) {
        Field::Present(p) => match parse_percent(&p.value) {
            Ok(value) => Field::Present(At {
                value,
                span: p.span,
            }),
            Err(e) => {
                r.error(p.span, t.key(key), e);
                Field::Invalid
            }
        },
        Field::Absent => Field::Absent,
        Field::Invalid => Field::Invalid,
    }
}

pub(super) fn parse_percent(s: &str) -> Result<f64, String> {
    let bad = || {
        format!(
            "invalid percentage \"{}\"; write e.g. \"1%\" or \"0.5%\"",
            s.escape_debug()
        )
    };
    let number = s.trim().strip_suffix('%').ok_or_else(bad)?.trim();
    let value: f64 = number.parse().map_err(|_| bad())?;
    if !value.is_finite() || !(0.0..=100.0).contains(&value) {
        return Err(format!(
            "percentage \"{}\" is out of range: 0% to 100%",
            s.escape_debug()
        ));
    }
    Ok(value / 100.0)
}

fn required_url(r: &mut Reader, t: &Table, key: &str, what: &str) -> Option<String> {
    match r.string(t, key, "a URL as a string") {
        Field::Present(u) => check(r, t, key, &u, url(&u.value)).map(|()| u.value),
        Field::Absent => {
            r.missing(t, key, format!("missing required key `{key}` ({what})"));
            None
        }
        Field::Invalid => None,
    }
}

/// An absolute http(s) URL with a host name.
pub(super) fn url(s: &str) -> Result<(), String> {
    let parsed =
        reqwest::Url::parse(s).map_err(|e| format!("invalid URL \"{}\": {e}", s.escape_debug()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("URL \"{}\" is not http or https", s.escape_debug()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("URL \"{}\" has no host", s.escape_debug()));
    }
    Ok(())
}

/// `host`, `host:port`, `ip`, `ip:port` or `[ipv6]:port`.
fn server(s: &str) -> Result<(), String> {
    let bad = |why: &str| format!("invalid server \"{}\": {why}", s.escape_debug());
    if s.parse::<std::net::SocketAddr>().is_ok() || s.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port
        && p.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(bad("the port must be 1 to 65535"));
    }
    checks::dns_name(host, false)
        .map(|_| ())
        .map_err(|e| bad(&e))
}

fn header_name(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        Ok(())
    } else {
        Err(format!("invalid header name \"{}\"", s.escape_debug()))
    }
}

/// An array of strings, each with its own span.
fn strings(r: &mut Reader, t: &Table, key: &str) -> Field<At<Vec<At<String>>>> {
    let Some(value) = t.map.get(key) else {
        return Field::Absent;
    };
    let expected = format!("an array of strings for {key}");
    let Some(items) = value.get_ref().as_array() else {
        r.error(value.span(), t.key(key), format!("expected {expected}"));
        return Field::Invalid;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items.iter() {
        match item.get_ref() {
            DeValue::String(s) => out.push(At {
                value: s.to_string(),
                span: item.span(),
            }),
            _ => {
                ok = false;
                r.error(item.span(), t.key(key), format!("expected {expected}"));
            }
        }
    }
    if ok {
        Field::Present(At {
            value: out,
            span: value.span(),
        })
    } else {
        Field::Invalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("1%"), Ok(0.01));
        assert_eq!(parse_percent(" 0.5 %"), Ok(0.005));
        assert_eq!(parse_percent("100%"), Ok(1.0));
        assert!(
            parse_percent("1")
                .unwrap_err()
                .contains("invalid percentage")
        );
        assert!(parse_percent("101%").unwrap_err().contains("out of range"));
        assert!(parse_percent("-1%").unwrap_err().contains("out of range"));
    }

    #[test]
    fn servers_and_urls() {
        assert!(server("ns-1.awsdns-01.org").is_ok());
        assert!(server("ns-1.awsdns-01.org:5353").is_ok());
        assert!(server("127.0.0.1:53").is_ok());
        assert!(server("[::1]:53").is_ok());
        assert!(server("ns:0").is_err());
        assert!(url("https://api.example.com/healthz").is_ok());
        assert!(url("ftp://api.example.com/").is_err());
        assert!(url("api.example.com").is_err());
    }
}
