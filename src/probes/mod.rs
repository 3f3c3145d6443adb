//! Probes: evidence of what users experienced during a drill. DNS probes ask the authoritative
//! name servers (and any recursive resolvers) where a name points; HTTP probes request the
//! service through their own TTL-honouring resolver and note which region answered; the write
//! canary posts increasing sequence numbers and, on request, reads them back to count
//! acknowledged writes that were lost.
//!
//! Probes run as tasks of their own on the injected clock, from before the first mutation to
//! after the last restore; each probe is sent on a timer tick and awaited in a task of its own, so
//! a slow answer never delays the next tick and nothing here ever blocks the engine. The engine
//! sets marks (phases, promotions, routing changes); `measure` turns the record into cut-over,
//! traffic-shift, write-outage and data-loss measurements, and `series` into a chart's counts.
//! The contract a service implements for the canary is in `docs/probes.md`.

pub mod canary;
pub mod dns;
pub mod http;
pub mod live;
pub mod measure;
pub mod resolver;
pub mod sample;
pub mod series;
pub mod ticker;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::cloud::Route53;
use crate::spec::{Probes, RegionFrom};

pub use measure::{Direction, Outage, Record, ShiftRule, Stats};
pub use sample::{Kind, LossCheck, Mark, Marked, Sample};
pub use ticker::Skew;

/// Probes in flight at once, at most; past that a tick records an error instead of piling up.
pub const MAX_IN_FLIGHT: usize = 256;

/// Where the probes reach the world, when not where the drill file and the host say: the lab's
/// DNS server and its apps' shared port.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// Replaces every authoritative name server (default: the hosted zones' delegation sets, or
    /// `name_servers` in the drill file).
    pub name_servers: Option<Vec<SocketAddr>>,
    /// What the HTTP and canary probes' resolver asks, non-recursively (default: the recursive
    /// resolvers in `/etc/resolv.conf`).
    pub client_dns: Option<Vec<SocketAddr>>,
    /// Every HTTP request goes to this port.
    pub port: Option<u16>,
}

/// Everything a prober needs, resolved.
#[derive(Debug, Clone)]
pub struct Setup {
    pub config: Probes,
    pub name_servers: Vec<SocketAddr>,
    pub resolvers: Vec<SocketAddr>,
    pub client_dns: Vec<SocketAddr>,
    /// Whether `client_dns` are recursive resolvers (RD set).
    pub client_recursion: bool,
    pub port: Option<u16>,
    /// Answer value (address or CNAME target, normalised) → the region it points to.
    pub regions: BTreeMap<String, String>,
    /// Where TestDNSAnswer is asked, when the drill configures `[probes.dns.test_dns_answer]`.
    pub route53_view: Option<Route53View>,
}

/// Route 53 and each DNS probe name with its hosted zone id, for TestDNSAnswer.
#[derive(Clone)]
pub struct Route53View {
    pub route53: Arc<dyn Route53>,
    /// (name, zone id)
    pub names: Vec<(String, String)>,
}

impl std::fmt::Debug for Route53View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route53View")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// State the probe tasks and the engine share.
pub struct Shared {
    pub clock: Clock,
    pub config: Probes,
    pub regions: BTreeMap<String, String>,
    pub region_from: Option<RegionFrom>,
    pub http: reqwest::Client,
    samples: Mutex<Vec<Sample>>,
    marks: Mutex<Vec<Marked>>,
    checks: Mutex<Vec<(String, LossCheck)>>,
    /// Canary seq → modelled time its acknowledgement arrived.
    acked: Mutex<BTreeMap<u64, Duration>>,
    pub skew: Arc<Skew>,
    started: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub fn record(&self, sample: Sample) {
        lock(&self.samples).push(sample);
    }

    fn acknowledged(&self, seq: u64) {
        lock(&self.acked).insert(seq, self.clock.elapsed());
    }

    fn acknowledged_before(&self, at: Duration) -> BTreeSet<u64> {
        lock(&self.acked)
            .iter()
            .filter(|(_, ack)| **ack < at)
            .map(|(seq, _)| *seq)
            .collect()
    }
}

/// Running probes. Dropping it stops the timers; [`Prober::stop`] also waits for answers in
/// flight and returns the record.
pub struct Prober {
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    permits: Arc<Semaphore>,
    read_url: Option<reqwest::Url>,
}

impl Prober {
    /// Starts every configured probe now.
    pub fn start(setup: Setup, clock: Clock) -> Result<Prober, String> {
        let config = setup.config.clone();
        let resolver = Arc::new(resolver::CachingResolver::new(
            clock.clone(),
            setup.client_dns.clone(),
            setup.client_recursion,
            config.timeout,
        ));
        let shared = Arc::new(Shared {
            clock: clock.clone(),
            region_from: config.http.as_ref().map(|h| h.region.clone()),
            config: config.clone(),
            regions: setup.regions.clone(),
            http: http::client(resolver)?,
            samples: Mutex::new(Vec::new()),
            marks: Mutex::new(Vec::new()),
            checks: Mutex::new(Vec::new()),
            acked: Mutex::new(BTreeMap::new()),
            skew: Arc::new(Skew::default()),
            started: clock.elapsed(),
        });
        let cancel = CancellationToken::new();
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let mut prober = Prober {
            shared: shared.clone(),
            cancel: cancel.clone(),
            tasks: Mutex::new(Vec::new()),
            permits: permits.clone(),
            read_url: None,
        };
        if let Some(dns) = &config.dns {
            let targets = dns::targets(&dns.names, &setup.name_servers, &setup.resolvers);
            if targets.is_empty() {
                return Err("the DNS probe has no name server to ask".to_string());
            }
            prober.every(config.interval, move |shared, at| {
                let targets = targets.clone();
                async move {
                    futures::future::join_all(
                        targets
                            .into_iter()
                            .map(|t| dns::probe(shared.clone(), t, at)),
                    )
                    .await;
                }
            });
        }
        if let (Some(view), Some(r53)) = (
            config.dns.as_ref().and_then(|d| d.test_dns_answer.as_ref()),
            &setup.route53_view,
        ) {
            let targets = dns::api_targets(&r53.names, &view.client_ips);
            let per_second = targets.len() as f64 / clock.to_real(view.interval).as_secs_f64();
            if per_second > 1.0 {
                tracing::warn!(
                    "probes.dns.test_dns_answer: {} TestDNSAnswer calls every {} are {per_second:.1} requests/s of real time, much of Route 53's 5 requests/s that the drill's own calls share; lengthen the interval or list fewer client_ips",
                    targets.len(),
                    humantime::format_duration(view.interval)
                );
            }
            let route53 = r53.route53.clone();
            // A slow answer is given up at the next tick, so questions never pile up.
            let limit = view.interval;
            prober.every(view.interval, move |shared, at| {
                let targets = targets.clone();
                let route53 = route53.clone();
                async move {
                    futures::future::join_all(targets.into_iter().map(|t| {
                        dns::test_dns_answer(shared.clone(), route53.clone(), t, at, limit)
                    }))
                    .await;
                }
            });
        }
        if let Some(h) = &config.http {
            let url = http::with_port(&h.url, setup.port)?;
            let source: Arc<str> = Arc::from(h.url.as_str());
            prober.every(h.interval, move |shared, at| {
                http::probe(shared, url.clone(), source.clone(), at)
            });
        }
        if let Some(c) = &config.canary {
            let write = http::with_port(&c.write_url, setup.port)?;
            let mut read = http::with_port(&c.read_url, setup.port)?;
            // Unique to this run and increasing: writes of earlier runs never count.
            let base = u64::try_from(clock.now().timestamp_millis()).unwrap_or(0) * 1000;
            read.query_pairs_mut()
                .append_pair("since", &base.to_string());
            prober.read_url = Some(read);
            let source: Arc<str> = Arc::from(c.write_url.as_str());
            let next = Arc::new(std::sync::atomic::AtomicU64::new(base));
            prober.every(config.interval, move |shared, at| {
                let seq = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                canary::write(shared, write.clone(), source.clone(), seq, at)
            });
        }
        Ok(prober)
    }

    /// Spawns a timer that sends `probe` every `interval`, each in a task of its own.
    fn every<F, Fut>(&mut self, interval: Duration, probe: F)
    where
        F: Fn(Arc<Shared>, Duration) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let shared = self.shared.clone();
        let cancel = self.cancel.clone();
        let permits = self.permits.clone();
        // The probes log in the span of the run that started them.
        lock(&self.tasks).push(tokio::spawn(tracing::Instrument::in_current_span(async move {
            let mut ticker =
                ticker::Ticker::new(shared.clock.clone(), interval, shared.skew.clone());
            loop {
                let at = tokio::select! {
                    at = ticker.tick() => at,
                    _ = cancel.cancelled() => return,
                };
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let fut = probe(shared.clone(), at);
                        tokio::spawn(tracing::Instrument::in_current_span(async move {
                            fut.await;
                            drop(permit);
                        }));
                    }
                    Err(_) => tracing::warn!(
                        "probes: {MAX_IN_FLIGHT} probes still waiting for answers; skipping a tick"
                    ),
                }
            }
        })));
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    pub fn config(&self) -> &Probes {
        &self.shared.config
    }

    pub fn mark(&self, mark: Mark) {
        let at = self.shared.clock.elapsed();
        lock(&self.shared.marks).push(Marked { at, mark });
    }

    /// Moves the latest mark equal to `mark` to `at` (the engine learns when a change was really
    /// accepted only after the step that made it).
    pub fn move_mark(&self, mark: &Mark, at: Duration) {
        let mut marks = lock(&self.shared.marks);
        if let Some(m) = marks.iter_mut().rev().find(|m| &m.mark == mark) {
            m.at = at;
        }
        marks.sort_by_key(|m| m.at);
    }

    /// Every sample so far, in the order they were answered.
    pub fn samples(&self) -> Vec<Sample> {
        lock(&self.shared.samples).clone()
    }

    /// Samples of `kind` sent at or after `since`.
    pub fn samples_since(&self, kind: Kind, since: Duration) -> Vec<Sample> {
        lock(&self.shared.samples)
            .iter()
            .filter(|s| s.kind == kind && s.at >= since)
            .cloned()
            .collect()
    }

    /// Reads the canary back and keeps the result under `label` (`failover`, `failback`).
    /// Ok(None) without a canary.
    pub async fn read_back(&self, label: &str) -> Result<Option<LossCheck>, String> {
        let Some(url) = &self.read_url else {
            return Ok(None);
        };
        let settle = self.shared.config.interval * 2;
        let check = canary::read_back(&self.shared, url, settle).await?;
        let mut checks = lock(&self.shared.checks);
        checks.retain(|(l, _)| l != label);
        checks.push((label.to_string(), check.clone()));
        Ok(Some(check))
    }

    /// Stops the timers, waits (at most one probe timeout) for answers in flight, and returns the
    /// record. Stopping twice is harmless.
    pub async fn stop(&self) -> Record {
        self.cancel.cancel();
        let tasks: Vec<JoinHandle<()>> = lock(&self.tasks).drain(..).collect();
        for task in tasks {
            let _ = task.await;
        }
        let drained = self.permits.acquire_many(MAX_IN_FLIGHT as u32);
        let grace = self.shared.config.timeout + self.shared.config.interval;
        let _ = self.shared.clock.timeout(grace, drained).await;
        self.record()
    }

    /// What was recorded so far.
    pub fn record(&self) -> Record {
        let mut samples = self.samples();
        samples.sort_by_key(|s| s.at);
        Record {
            samples,
            marks: lock(&self.shared.marks).clone(),
            checks: lock(&self.shared.checks).clone(),
            started: self.shared.started,
            stopped: self.shared.clock.elapsed(),
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
