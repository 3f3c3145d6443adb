//! The AWS endpoint: one HTTP server on loopback that speaks Route 53 (REST-XML under
//! `/2013-04-01/`), RDS (the Query protocol, `POST /` with `Action=…`) and CloudWatch (Smithy RPC
//! v2 CBOR under `/service/GraniteServiceVersion20100801/`, or AWS JSON 1.0 with an `X-Amz-Target`),
//! so unmodified AWS SDKs and the AWS CLI work against it with an endpoint URL.
//!
//! Every request must be SigV4-signed with the lab's access key (the signature itself is not
//! verified); RDS and CloudWatch take their region from the credential scope, as AWS does. Errors
//! are AWS-shaped — XML (`<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>
//! </ErrorResponse>`) or, for CloudWatch, a CBOR `{__type, message}` — with the status AWS uses
//! for that code and an `x-amzn-RequestId` header. Every call, answered or refused, is logged in
//! the ground truth.
//!
//! Route 53 keeps its account limit on the lab's clock: a request that would be the sixth served
//! within one modelled second is answered `Throttling` ("Rate exceeded", HTTP 400), as AWS does.
//! A client paced on the same clock never sees it; one paced on real time, or not at all, does.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::shared::Shared;
use super::truth::What;
use super::wire::{credential, decode_form};
use super::xml::XmlWriter;
use super::{LAB_ACCESS_KEY_ID, cloudwatch_api, rds_api, route53_api};

pub const ROUTE53_NS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";
pub const RDS_NS: &str = "http://rds.amazonaws.com/doc/2014-10-31/";

/// An error as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub code: String,
    pub message: String,
}

impl AwsError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The HTTP status AWS answers this code with.
    pub fn status(&self) -> StatusCode {
        match self.code.as_str() {
            "NoSuchHostedZone"
            | "ResourceNotFound"
            | "NoSuchChange"
            | "NoSuchHealthCheck"
            | "GlobalClusterNotFoundFault"
            | "DBClusterNotFoundFault" => StatusCode::NOT_FOUND,
            "HealthCheckVersionMismatch" => StatusCode::CONFLICT,
            "UnknownOperationException" => StatusCode::NOT_FOUND,
            "MissingAuthenticationToken"
            | "InvalidClientTokenId"
            | "IncompleteSignature"
            | "AccessDenied" => StatusCode::FORBIDDEN,
            "InternalFailure" => StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceUnavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Route53,
    Rds,
    CloudWatch,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Route53 => "route53",
            Service::Rds => "rds",
            Service::CloudWatch => "cloudwatch",
        }
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// Serves the AWS APIs and the lab's `control` routes (`/_lab/*`) until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    control: Router,
    shutdown: CancellationToken,
) {
    let result = axum::serve(listener, router(shared).merge(control))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "lab AWS endpoint stopped");
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Read before waiting for the world's lock, which the DNS server and the apps also take.
    let arrived = shared.now();
    let path = uri.path().to_string();
    let query = decode_form(uri.query().unwrap_or(""));
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(cloudwatch_api::TARGET_PREFIX))
        .map(str::to_string);
    let (service, protocol) = if path == "/2013-04-01" || path.starts_with("/2013-04-01/") {
        (Service::Route53, None)
    } else if path.starts_with(cloudwatch_api::PATH_PREFIX) {
        (Service::CloudWatch, Some(cloudwatch_api::Protocol::Cbor))
    } else if target.is_some() {
        (Service::CloudWatch, Some(cloudwatch_api::Protocol::Json))
    } else {
        (Service::Rds, None)
    };
    let protocol = protocol.unwrap_or(cloudwatch_api::Protocol::Cbor);
    let mut params = query.clone();
    if service == Service::Rds && method == Method::POST {
        params.extend(decode_form(&String::from_utf8_lossy(&body)));
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let scope = credential(authorization, &query);

    let mut world = shared.world();
    let request_id = world.request_id();
    let operation = match service {
        Service::Route53 => route53_api::operation_name(&method, &path),
        Service::Rds => params.get("Action").cloned().unwrap_or_default(),
        Service::CloudWatch => target
            .clone()
            .or_else(|| {
                path.strip_prefix(cloudwatch_api::PATH_PREFIX)
                    .map(str::to_string)
            })
            .unwrap_or_default(),
    };
    let region = match (&scope, service) {
        (_, Service::Route53) => "us-east-1".to_string(),
        (Some(Ok(c)), _) => c.region.clone(),
        _ => String::new(),
    };
    let mut resource = String::new();
    let result = match scope {
        None => Err(AwsError::new(
            "MissingAuthenticationToken",
            "Missing Authentication Token",
        )),
        Some(Err(message)) => Err(AwsError::new("IncompleteSignature", message)),
        Some(Ok(c)) if c.access_key != LAB_ACCESS_KEY_ID => Err(AwsError::new(
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )),
        Some(Ok(_)) if service == Service::Route53 && world.route53_rate_exceeded(arrived) => {
            Err(AwsError::new("Throttling", "Rate exceeded"))
        }
        Some(Ok(_)) if world.throttled() => Err(AwsError::new("Throttling", "Rate exceeded")),
        Some(Ok(_)) => match service {
            Service::Route53 => {
                route53_api::execute(&mut world, &method, &path, &query, &body, &mut resource)
                    .map(String::into_bytes)
            }
            Service::Rds => {
                rds_api::execute(&mut world, &params, &region, &request_id, &mut resource)
                    .map(String::into_bytes)
            }
            Service::CloudWatch => cloudwatch_api::execute(
                &mut world,
                protocol,
                &operation,
                &body,
                &region,
                &mut resource,
            ),
        },
    };
    let (status, payload, code) = match result {
        Ok(payload) => (StatusCode::OK, payload, None),
        Err(e) => {
            let payload = match service {
                Service::Route53 => error_xml(ROUTE53_NS, &e, &request_id).into_bytes(),
                Service::Rds => error_xml(RDS_NS, &e, &request_id).into_bytes(),
                Service::CloudWatch => cloudwatch_api::error_body(protocol, &e),
            };
            (e.status(), payload, Some(e))
        }
    };
    let now = world.now;
    world.truth.record(
        now,
        What::ApiCall {
            service: service.name().to_string(),
            operation: if operation.is_empty() {
                "(none)".to_string()
            } else {
                operation
            },
            region,
            status: status.as_u16(),
            error_code: code.as_ref().map(|e| e.code.clone()),
            request_id: request_id.clone(),
            resource,
        },
    );
    drop(world);
    let mut response = (status, payload).into_response();
    let headers = response.headers_mut();
    match service {
        Service::CloudWatch => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(protocol.content_type()),
            );
            if protocol == cloudwatch_api::Protocol::Cbor {
                headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
            }
            // The awsQuery-compatible error code, which SDKs prefer over `__type`.
            if let Some(e) = &code
                && let Ok(v) = HeaderValue::from_str(&format!("{};{}", e.code, fault_type(e)))
            {
                headers.insert("x-amzn-query-error", v);
            }
        }
        Service::Route53 | Service::Rds => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        }
    }
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-RequestId", id);
    }
    response
}

/// `Sender` for the caller's mistakes, `Receiver` for the service's.
fn fault_type(e: &AwsError) -> &'static str {
    if e.status().is_server_error() {
        "Receiver"
    } else {
        "Sender"
    }
}

fn error_xml(namespace: &str, e: &AwsError, request_id: &str) -> String {
    let mut w = XmlWriter::document("ErrorResponse", namespace);
    w.open("Error")
        .leaf("Type", fault_type(e))
        .leaf("Code", &e.code)
        .leaf("Message", &e.message)
        .close()
        .leaf("RequestId", request_id);
    w.finish()
}

/// Parameters by name, for handlers.
pub type Params = BTreeMap<String, String>;
