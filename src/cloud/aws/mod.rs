//! The AWS implementation of the cloud traits, over aws-sdk-route53, aws-sdk-rds and
//! aws-sdk-cloudwatch. SDK types are converted to the domain's here and nowhere else.
//!
//! Route 53 is global: one client, signed for the partition's home region (us-east-1 in the `aws`
//! partition). RDS gets one client per drill region, CloudWatch one per region an alarm lives in.
//! Every Route 53 request to one account is paced, on the run's clock, to stay under the 5
//! requests/s account limit (see `pacing`).
//! Every call of every service is retried by the SDK's standard retry strategy with
//! [`MAX_ATTEMPTS`] attempts (its classifier lists `Throttling` and `PriorRequestNotComplete` as
//! throttling errors). Its backoff sleeps on the run's clock ([`ClockSleep`]), so in a lab a retry
//! costs the same modelled time at every time scale; the HTTP connector's own timeouts stay on
//! real time, because the network they guard is real.
//! Every client logs each call it makes (`-v`) through the [`CallLog`] interceptor (`calls`).

mod alarms;
mod batches;
mod calls;
mod errors;
mod pacing;
mod rds;
mod records;
mod route53;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_sdk_route53::config::retry::RetryConfig;
use aws_sdk_route53::config::{AsyncSleep, Region, SharedAsyncSleep, SharedHttpClient, Sleep};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{ConnectorBuilder, tls};

pub use calls::CallLog;
pub use pacing::{ROUTE53_INTERVAL, RateLimiter};

use crate::clock::Clock;
use crate::cloud::{Cloud, CloudError};
use pacing::PacedHttpClient;

/// Attempts per AWS call, every service (the first and seven retries). With the SDK's exponential
/// backoff and full jitter (1 s base, 20 s cap) this rides out about a minute of throttling. The
/// SDK's default of three gives up on a bad second, and a drill that gives up mid-switchover has a
/// rollback to make where it had nothing to undo: an RDS `Throttling` on SwitchoverGlobalCluster
/// or a status poll is as survivable as one on Route 53.
pub const MAX_ATTEMPTS: u32 = 8;

/// The retry policy every client of the process gets: the SDK's standard strategy (it classifies
/// `Throttling`, `PriorRequestNotComplete`, 5xx and timeouts as retryable) with [`MAX_ATTEMPTS`].
fn retry_policy() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// The SDK's sleeps (retry backoff) on the run's clock: against AWS real time, in a lab its
/// modelled time, so a throttled call waits the same modelled time at every lab speed.
#[derive(Debug, Clone)]
pub struct ClockSleep(pub Clock);

impl AsyncSleep for ClockSleep {
    fn sleep(&self, duration: std::time::Duration) -> Sleep {
        Sleep::new(tokio::time::sleep(self.0.to_real(duration)))
    }
}

/// How to reach AWS.
#[derive(Clone)]
pub struct AwsOptions {
    /// A named profile (`--profile`); otherwise the default chain picks one.
    pub profile: Option<String>,
    /// An explicit endpoint for every service (the lab uses this). Without it, `AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_ROUTE_53`, `AWS_ENDPOINT_URL_RDS` and `AWS_ENDPOINT_URL_CLOUDWATCH` are
    /// honoured as aws-config does.
    pub endpoint_url: Option<String>,
    /// A fixed access key and secret (the lab's); otherwise the default credential chain.
    pub static_credentials: Option<(String, String)>,
    /// One RDS client per region.
    pub regions: Vec<String>,
    /// The clock the run uses: Route 53 requests are paced in its time (real for AWS, the lab's
    /// for a lab, so a lab's figures do not depend on its speed).
    pub clock: Clock,
}

impl Default for AwsOptions {
    /// AWS on the real clock.
    fn default() -> Self {
        AwsOptions {
            profile: None,
            endpoint_url: None,
            static_credentials: None,
            regions: Vec::new(),
            clock: Clock::real(),
        }
    }
}

impl fmt::Debug for AwsOptions {
    // The secret key never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsOptions")
            .field("profile", &self.profile)
            .field("endpoint_url", &self.endpoint_url)
            .field(
                "static_credentials",
                &self.static_credentials.as_ref().map(|_| "** redacted **"),
            )
            .field("regions", &self.regions)
            .field("time_scale", &self.clock.scale())
            .finish()
    }
}

/// Builds the clients. Nothing is sent yet: credentials are resolved on the first call.
///
/// The Route 53 client is paced by the limiter of `opts.clock`'s scale and the account the options
/// name (endpoint, profile, static key): every `Cloud` of the process for that account shares it,
/// as long as one is alive.
pub async fn connect(opts: AwsOptions) -> Result<Cloud, CloudError> {
    for region in &opts.regions {
        check_region(region)?;
    }
    let route53_region = route53_region(&opts.regions);
    // The loader's own region only keeps it from probing the environment and instance metadata for
    // one; every client below names its region explicitly.
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(route53_region))
        .http_client(default_https_client())
        .retry_config(retry_policy())
        .sleep_impl(SharedAsyncSleep::new(ClockSleep(opts.clock.clone())));
    if let Some(profile) = &opts.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some((access_key, secret)) = &opts.static_credentials {
        loader = loader.credentials_provider(Credentials::new(
            access_key,
            secret,
            None,
            None,
            "failover-drill-static",
        ));
    }
    let sdk_config = loader.load().await;

    let route53 = aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::config::Builder::from(&sdk_config)
            .region(Region::new(route53_region))
            .build(),
    );
    let rds = opts
        .regions
        .iter()
        .map(|region| {
            let conf = aws_sdk_rds::config::Builder::from(&sdk_config)
                .region(Region::new(region.clone()))
                .build();
            (region.clone(), aws_sdk_rds::Client::from_conf(conf))
        })
        .collect();
    let account = format!(
        "endpoint={:?} profile={:?} key={:?}",
        opts.endpoint_url,
        opts.profile,
        opts.static_credentials.as_ref().map(|(key, _)| key)
    );
    let limiter = RateLimiter::shared(&opts.clock, &account);
    let mut cloud = from_clients_with_limiter(route53, rds, limiter);
    cloud.alarms = Arc::new(alarms::AwsAlarms::new(Some(sdk_config), HashMap::new()));
    Ok(cloud)
}

/// CloudWatch over already-built clients, one per region (tests build them against mocks).
pub fn alarms_from_clients(
    clients: HashMap<String, aws_sdk_cloudwatch::Client>,
) -> Arc<dyn crate::cloud::Alarms> {
    Arc::new(alarms::AwsAlarms::new(None, clients))
}

/// The cloud over already-built SDK clients (tests build them against mocks; CloudWatch has no
/// clients here, see [`alarms_from_clients`]). The Route 53 client
/// gets this module's policy on top of its own configuration: pacing on `clock` and
/// [`MAX_ATTEMPTS`] standard retries, whose backoff sleeps on `clock`; the RDS clients get the
/// same retries on the same clock.
///
/// The limiter is this cloud's own: a process that talks to one account must share one `Cloud`
/// (or use [`connect`], whose clouds share a limiter per account).
pub fn from_clients(
    route53: aws_sdk_route53::Client,
    rds: HashMap<String, aws_sdk_rds::Client>,
    clock: &Clock,
) -> Cloud {
    let sleep = SharedAsyncSleep::new(ClockSleep(clock.clone()));
    let route53 = aws_sdk_route53::Client::from_conf(
        route53
            .config()
            .to_builder()
            .sleep_impl(sleep.clone())
            .build(),
    );
    let rds = rds
        .into_iter()
        .map(|(region, client)| {
            let conf = client
                .config()
                .to_builder()
                .sleep_impl(sleep.clone())
                .build();
            (region, aws_sdk_rds::Client::from_conf(conf))
        })
        .collect();
    from_clients_with_limiter(
        route53,
        rds,
        Arc::new(RateLimiter::new(clock.clone(), ROUTE53_INTERVAL)),
    )
}

/// [`from_clients`] with a given limiter (tests give a private one with their own interval).
pub fn from_clients_with_limiter(
    route53: aws_sdk_route53::Client,
    rds: HashMap<String, aws_sdk_rds::Client>,
    limiter: Arc<RateLimiter>,
) -> Cloud {
    let conf = route53.config();
    let http = conf.http_client().unwrap_or_else(default_https_client);
    let conf = conf
        .to_builder()
        .http_client(PacedHttpClient::new(http, limiter))
        .retry_config(retry_policy())
        .interceptor(CallLog)
        .build();
    let rds = rds
        .into_iter()
        .map(|(region, client)| {
            let conf = client
                .config()
                .to_builder()
                .retry_config(retry_policy())
                .interceptor(CallLog)
                .build();
            (region, aws_sdk_rds::Client::from_conf(conf))
        })
        .collect();
    Cloud {
        route53: Arc::new(route53::AwsRoute53::new(
            aws_sdk_route53::Client::from_conf(conf),
        )),
        rds: Arc::new(rds::AwsGlobalDatabase::new(rds)),
        alarms: alarms_from_clients(HashMap::new()),
    }
}

/// The SDK's default HTTP client behind `limiter`: for a Route 53 client built by hand (a test's)
/// that must keep the pace a lab enforces.
pub fn paced_http_client(limiter: Arc<RateLimiter>) -> SharedHttpClient {
    SharedHttpClient::new(PacedHttpClient::new(default_https_client(), limiter))
}

/// The region Route 53 requests are signed for: the home region of the drill regions' partition.
fn route53_region(regions: &[String]) -> &'static str {
    match regions.first().map(String::as_str) {
        Some(r) if r.starts_with("cn-") => "cn-northwest-1",
        Some(r) if r.starts_with("us-gov-") => "us-gov-west-1",
        _ => "us-east-1",
    }
}

fn check_region(region: &str) -> Result<(), CloudError> {
    let well_formed = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if well_formed {
        Ok(())
    } else {
        Err(CloudError::Config {
            operation: "connect".to_string(),
            resource: format!("region {region:?}"),
            message: "a region is lower-case letters, digits and dashes, like us-east-1"
                .to_string(),
        })
    }
}

/// The SDK's default HTTPS client (rustls with aws-lc, proxy settings from the environment), built
/// here because the pacing wrapper needs a client to wrap.
fn default_https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, _components| {
        let mut builder = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        builder.set_connector_settings(settings.cloned());
        // Connect and read timeouts guard the real network: real time, whatever clock the
        // client's retries sleep on.
        builder.set_sleep_impl(Some(SharedAsyncSleep::new(ClockSleep(Clock::real()))));
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route53_is_signed_for_the_partition_home_region() {
        let r = |v: &[&str]| route53_region(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(r(&["us-west-2", "eu-west-1"]), "us-east-1");
        assert_eq!(r(&[]), "us-east-1");
        assert_eq!(r(&["cn-north-1"]), "cn-northwest-1");
        assert_eq!(r(&["us-gov-east-1"]), "us-gov-west-1");
    }

    #[test]
    fn options_never_print_the_secret() {
        let opts = AwsOptions {
            static_credentials: Some(("AKIDEXAMPLE".into(), "wJalrXUtnFEMI/K7MDENG".into())),
            ..AwsOptions::default()
        };
        let printed = format!("{opts:?}");
        assert!(!printed.contains("wJalrXUtnFEMI"), "{printed}");
        assert!(!printed.contains("AKIDEXAMPLE"), "{printed}");
    }

    #[tokio::test]
    async fn a_malformed_region_is_refused() {
        let opts = AwsOptions {
            regions: vec!["us-east-1".into(), "US East".into()],
            ..AwsOptions::default()
        };
        let err = connect(opts).await.err().expect("refused");
        assert!(
            matches!(&err, CloudError::Config { resource, .. } if resource == "region \"US East\""),
            "{err:?}"
        );
    }
}
