//! SDK errors to `CloudError`: "not found" codes become `NotFound`, other service answers `Api` (code
//! and message), failures to get an answer at all `Transport`. Every error names the operation and
//! the resource. Nothing here ever formats a request, a config or credentials.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::cloud::CloudError;

/// Error codes meaning "the thing you named does not exist".
const NOT_FOUND_CODES: &[&str] = &[
    "NoSuchHostedZone",
    "NoSuchHealthCheck",
    "NoSuchChange",
    "GlobalClusterNotFoundFault",
    "DBClusterNotFoundFault",
];

/// Maps an SDK error from `operation` on `resource`.
pub(crate) fn from_sdk<E>(
    operation: &str,
    resource: impl Into<String>,
    err: SdkError<E, HttpResponse>,
) -> CloudError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let resource = resource.into();
    match &err {
        SdkError::ServiceError(ctx) => {
            let service_err = ctx.err();
            let code = match service_err.code() {
                Some(code) => code.to_string(),
                None => format!("HTTP {}", ctx.raw().status().as_u16()),
            };
            if NOT_FOUND_CODES.contains(&code.as_str()) {
                return CloudError::NotFound { resource, code };
            }
            let message = match service_err.message() {
                Some(message) if !message.is_empty() => message.to_string(),
                _ => chain(service_err),
            };
            CloudError::Api {
                operation: operation.to_string(),
                resource,
                code,
                message,
            }
        }
        // The request was never well-formed enough to send.
        SdkError::ConstructionFailure(_) => CloudError::Api {
            operation: operation.to_string(),
            resource,
            code: "ConstructionFailure".to_string(),
            message: chain(&err),
        },
        // Dispatch failures, timeouts and unreadable responses: no answer from the service.
        _ => CloudError::Transport {
            operation: operation.to_string(),
            resource,
            message: chain(&err),
        },
    }
}

/// An error and its causes, `outer: inner: innermost`. Unlike the SDK's own rendering this leaves
/// out the raw response (headers, an HTML error page), which helps nobody at the top of a report.
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some layers repeat their cause in their own message.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// An answer that arrived but lacks something the API promises (a required element, a parsable ARN).
pub(crate) fn malformed(operation: &str, resource: impl Into<String>, what: &str) -> CloudError {
    CloudError::Api {
        operation: operation.to_string(),
        resource: resource.into(),
        code: "MalformedResponse".to_string(),
        message: what.to_string(),
    }
}

/// A request this module refuses to send because it cannot be expressed to the API.
pub(crate) fn invalid_input(
    operation: &str,
    resource: impl Into<String>,
    message: impl Into<String>,
) -> CloudError {
    CloudError::Api {
        operation: operation.to_string(),
        resource: resource.into(),
        code: "InvalidInput".to_string(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_route53::operation::get_health_check::GetHealthCheckError;
    use aws_sdk_route53::types::error::NoSuchHealthCheck;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::empty(),
        )
    }

    #[test]
    fn not_found_codes_become_not_found() {
        let err = SdkError::service_error(
            GetHealthCheckError::NoSuchHealthCheck(
                NoSuchHealthCheck::builder()
                    .message("no health check abc")
                    .meta(ErrorMetadata::builder().code("NoSuchHealthCheck").build())
                    .build(),
            ),
            response(404),
        );
        assert_eq!(
            from_sdk("GetHealthCheck", "health check abc", err),
            CloudError::NotFound {
                resource: "health check abc".into(),
                code: "NoSuchHealthCheck".into()
            }
        );
    }

    #[test]
    fn other_codes_keep_code_and_message() {
        let err = SdkError::service_error(
            GetHealthCheckError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("not allowed")
                    .build(),
            ),
            response(403),
        );
        let mapped = from_sdk("GetHealthCheck", "health check abc", err);
        assert_eq!(
            mapped.to_string(),
            "GetHealthCheck on health check abc failed: AccessDenied: not allowed"
        );
    }

    #[test]
    fn an_answer_without_a_code_names_the_http_status() {
        let err = SdkError::service_error(
            GetHealthCheckError::generic(ErrorMetadata::builder().build()),
            response(503),
        );
        assert_eq!(
            from_sdk("GetHealthCheck", "health check abc", err).code(),
            Some("HTTP 503")
        );
    }

    #[test]
    fn dispatch_failures_are_transport_errors() {
        let err: SdkError<GetHealthCheckError, HttpResponse> = SdkError::timeout_error("too slow");
        let mapped = from_sdk("GetHealthCheck", "health check abc", err);
        assert!(
            matches!(&mapped, CloudError::Transport { operation, message, .. }
                if operation == "GetHealthCheck" && message.ends_with(": too slow")),
            "{mapped:?}"
        );
    }
}
