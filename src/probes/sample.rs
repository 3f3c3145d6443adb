//! What the probes record: one `Sample` per probe sent, the marks the engine sets (phases,
//! routing changes, promotions), acknowledged canary writes and read-back results. Everything is
//! on the injected clock's modelled time (`Duration` since the clock started).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Dns,
    Http,
    Canary,
    /// Route 53's TestDNSAnswer: the configuration's answer, not a name server's.
    TestDnsAnswer,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dns => "dns",
            Kind::Http => "http",
            Kind::Canary => "canary",
            Kind::TestDnsAnswer => "test_dns_answer",
        }
    }
}

/// One probe: when it was sent, how long it took, whether it worked and which region it reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub kind: Kind,
    /// What was probed: `name @ server` for DNS, `TestDNSAnswer name (client IP)`, the URL for
    /// HTTP and the canary.
    pub source: Arc<str>,
    /// Whether `source` is an authoritative name server (DNS only).
    pub authoritative: bool,
    /// Modelled time the probe was sent.
    pub at: Duration,
    pub latency: Duration,
    pub ok: bool,
    /// The region that answered (HTTP, canary) or that the DNS answer points to.
    pub region: Option<String>,
    /// Why it failed, or the DNS answer.
    pub detail: Option<String>,
    /// The canary's sequence number.
    pub seq: Option<u64>,
}

impl Sample {
    /// Served by (or, for DNS, pointing at) `region`.
    pub fn reached(&self, region: &str) -> bool {
        self.ok && self.region.as_deref() == Some(region)
    }
}

/// Something the engine did that the measurements are relative to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Mark {
    /// A new phase of the drill starts (`baseline`, `failover`, `soak`, `failback`).
    Phase { name: String },
    /// The writer is about to be moved to `to`.
    Promotion { to: String },
    /// Routing is about to be changed so traffic goes to `to`.
    Routing { to: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub at: Duration,
    pub mark: Mark,
}

/// One read-back of the canary: which acknowledged writes were missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LossCheck {
    /// Modelled time the (first) read was sent.
    #[serde(skip)]
    pub at: Duration,
    /// Acknowledged writes the read-back covered.
    pub checked: usize,
    /// Acknowledged, then missing from two reads in a row.
    pub missing: Vec<u64>,
    /// The region that served the reads.
    pub region: Option<String>,
}
