//! Logs every AWS call an SDK client makes, for `-v` (debug: service, operation, region, resource,
//! attempts, duration and HTTP status of each call, and each failed attempt) and `-vv` (trace:
//! every attempt with its request id). An SDK interceptor, so every client of every service gets
//! it the same way and the trait implementations stay about the domain.
//!
//! Never logged: credentials, signatures, headers other than the request id, and request or
//! response bodies (an RDS request is a form whose body holds its parameters).

use std::time::Instant;

use aws_sdk_route53::config::Region;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// The interceptor: add it to every client's config.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallLog;

/// One execution's start and attempts so far, kept in its config bag.
#[derive(Debug, Clone)]
struct Call {
    started: Instant,
    attempt_started: Instant,
    attempts: u32,
    /// The request's path (Route 53 names its zone or change there); `None` for `/` (RDS and
    /// CloudWatch put everything in the body).
    resource: Option<String>,
}

impl Storable for Call {
    type Storer = StoreReplace<Self>;
}

/// The path of `uri` without scheme, host or query: `/2013-04-01/hostedzone/Z1/rrset`.
fn resource(uri: &str) -> Option<String> {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("/");
    (path != "/" && !path.is_empty()).then(|| crate::escape::terminal(path).into_owned())
}

fn names(cfg: &ConfigBag) -> (String, String, String) {
    let (service, operation) = cfg
        .load::<Metadata>()
        .map(|m| (m.service().to_string(), m.name().to_string()))
        .unwrap_or_else(|| ("?".to_string(), "?".to_string()));
    let region = cfg
        .load::<Region>()
        .map(|r| r.to_string())
        .unwrap_or_default();
    (service, operation, region)
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "failover-drill call log"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let now = Instant::now();
        cfg.interceptor_state().store_put(Call {
            started: now,
            attempt_started: now,
            attempts: 0,
            resource: None,
        });
        Ok(())
    }

    fn read_before_attempt(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(call) = cfg.load::<Call>().cloned() {
            cfg.interceptor_state().store_put(Call {
                attempt_started: Instant::now(),
                attempts: call.attempts + 1,
                resource: resource(context.request().uri()),
                ..call
            });
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<Call>() else {
            return Ok(());
        };
        let status = context.response().map(|r| r.status().as_u16());
        // Deserialised by now: an error (or none at all, when the attempt never got a response)
        // is what the retry strategy judges.
        let failed = !matches!(context.output_or_error(), Some(Ok(_)));
        // Failed attempts at -v (a retry is worth seeing), every attempt at -vv.
        let wanted = tracing::enabled!(tracing::Level::TRACE)
            || (failed && tracing::enabled!(tracing::Level::DEBUG));
        if !wanted {
            return Ok(());
        }
        let (service, operation, region) = names(cfg);
        let request_id = context.response().and_then(|r| {
            ["x-amzn-requestid", "x-amz-request-id"]
                .iter()
                .find_map(|h| r.headers().get(*h))
                .map(|id| crate::escape::terminal(id).into_owned())
        });
        let status = status.map_or_else(|| "no response".to_string(), |s| s.to_string());
        if failed {
            tracing::debug!(
                service = %service,
                operation = %operation,
                region = %region,
                resource = %call.resource.as_deref().unwrap_or("-"),
                attempt = call.attempts,
                duration_ms = millis(call.attempt_started),
                status = %status,
                request_id = %request_id.as_deref().unwrap_or("-"),
                "aws attempt failed"
            );
        } else {
            tracing::trace!(
                service = %service,
                operation = %operation,
                region = %region,
                resource = %call.resource.as_deref().unwrap_or("-"),
                attempt = call.attempts,
                duration_ms = millis(call.attempt_started),
                status = %status,
                request_id = %request_id.as_deref().unwrap_or("-"),
                "aws attempt"
            );
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return Ok(());
        }
        let Some(call) = cfg.load::<Call>() else {
            return Ok(());
        };
        let (service, operation, region) = names(cfg);
        let ok = matches!(context.output_or_error(), Some(Ok(_)));
        let status = context.response().map_or_else(
            || "no response".to_string(),
            |r| r.status().as_u16().to_string(),
        );
        tracing::debug!(
            service = %service,
            operation = %operation,
            region = %region,
            resource = %call.resource.as_deref().unwrap_or("-"),
            attempts = call.attempts,
            duration_ms = millis(call.started),
            status = %status,
            "aws call {}",
            if ok { "ok" } else { "failed" }
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_is_the_path_alone() {
        assert_eq!(
            resource("https://route53.amazonaws.com/2013-04-01/hostedzone/Z1/rrset?name=a.&type=A")
                .as_deref(),
            Some("/2013-04-01/hostedzone/Z1/rrset")
        );
        assert_eq!(resource("https://rds.us-east-1.amazonaws.com/"), None);
        assert_eq!(resource("http://127.0.0.1:4566"), None);
    }
}
