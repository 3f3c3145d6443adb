//! The HTTP and canary probes' own resolver: asks its upstream servers for A records and caches
//! each answer for exactly its TTL on the injected clock, like a well-behaved client library. So
//! the probes follow a DNS change when a real client would (after the TTL it last saw), not when
//! the authoritative answer changes. Errors are not cached: the next request asks again.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::wire;
use crate::clock::Clock;

#[derive(Debug)]
pub struct CachingResolver {
    clock: Clock,
    upstream: Vec<SocketAddr>,
    /// Recursive upstreams get RD set; the lab's authoritative server does not need it.
    recursion: bool,
    timeout: Duration,
    /// Name → (addresses, modelled expiry).
    cache: Mutex<HashMap<String, (Vec<IpAddr>, Duration)>>,
}

impl CachingResolver {
    pub fn new(
        clock: Clock,
        upstream: Vec<SocketAddr>,
        recursion: bool,
        timeout: Duration,
    ) -> Self {
        CachingResolver {
            clock,
            upstream,
            recursion,
            timeout,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The addresses for `host`, from the cache while its TTL lasts.
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let key = host.trim_end_matches('.').to_ascii_lowercase();
        let now = self.clock.elapsed();
        if let Some((addrs, expires)) = self.lock().get(&key)
            && *expires > now
        {
            return Ok(addrs.clone());
        }
        let fqdn = format!("{key}.");
        let mut last = format!("no resolver to ask for {key}");
        for server in &self.upstream {
            match wire::query(&self.clock, *server, &fqdn, self.recursion, self.timeout).await {
                Ok(answer) if !answer.addrs.is_empty() => {
                    let expires = self.clock.elapsed() + Duration::from_secs(u64::from(answer.ttl));
                    self.lock().insert(key, (answer.addrs.clone(), expires));
                    return Ok(answer.addrs);
                }
                Ok(answer) => last = format!("{key}: {} with no address", answer.rcode),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<IpAddr>, Duration)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// reqwest asks this for every new connection (the probes keep no idle connections, so that is
/// every request).
#[derive(Debug, Clone)]
pub struct ForReqwest(pub Arc<CachingResolver>);

impl Resolve for ForReqwest {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolver
                .lookup(&host)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            let addrs: Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
