//! Route 53 health checks as the lab keeps them. A check's raw result is whether the endpoint it
//! probes (a regional app) is up; `Inverted` flips it and `Disabled` makes it healthy regardless.
//! What the checkers report (`observed`) catches up with the settings after a modelled
//! propagation delay, and that is what DNS failover and `GetHealthCheckStatus` see.

use std::net::Ipv4Addr;

/// The regions Route 53's checkers run from (one observation each).
pub const CHECKER_REGIONS: [&str; 8] = [
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
];

#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub id: String,
    pub caller_reference: String,
    pub kind: String,
    pub ip: Option<Ipv4Addr>,
    pub port: u16,
    pub resource_path: Option<String>,
    pub fqdn: Option<String>,
    pub request_interval: i32,
    pub failure_threshold: i32,
    pub inverted: bool,
    pub disabled: bool,
    pub version: i64,
    /// What the checkers currently report: healthy or not, and the status line they give.
    pub observed: Observation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub healthy: bool,
    pub status: String,
}

impl HealthCheck {
    /// A fresh HTTP check of `ip:port/healthz`, version 1, as the lab seeds them.
    pub fn http(id: &str, ip: Ipv4Addr, port: u16) -> Self {
        HealthCheck {
            id: id.to_string(),
            caller_reference: format!("lab-{id}"),
            kind: "HTTP".to_string(),
            ip: Some(ip),
            port,
            resource_path: Some("/healthz".to_string()),
            fqdn: None,
            request_interval: 30,
            failure_threshold: 3,
            inverted: false,
            disabled: false,
            version: 1,
            observed: Observation {
                healthy: true,
                status: "Success: HTTP Status Code 200, OK".to_string(),
            },
        }
    }

    /// What the checkers will report once they notice the current settings, given whether the
    /// endpoint answers.
    pub fn evaluate(&self, endpoint_up: bool) -> Observation {
        let raw = if endpoint_up {
            "HTTP Status Code 200, OK"
        } else {
            "HTTP Status Code 503, Service Unavailable"
        };
        if self.disabled {
            return Observation {
                healthy: true,
                status: "Success: Health checking is disabled".to_string(),
            };
        }
        let healthy = endpoint_up != self.inverted;
        let status = match (healthy, self.inverted) {
            (true, false) => format!("Success: {raw}"),
            (false, false) => format!("Failure: {raw}"),
            (true, true) => format!("Success: {raw} (inverted)"),
            (false, true) => format!("Failure: {raw} (inverted)"),
        };
        Observation { healthy, status }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inversion_and_disabling() {
        let mut hc = HealthCheck::http("hc", Ipv4Addr::new(127, 0, 0, 11), 80);
        assert!(hc.evaluate(true).healthy);
        assert!(!hc.evaluate(false).healthy);
        hc.inverted = true;
        assert!(!hc.evaluate(true).healthy);
        assert!(hc.evaluate(true).status.starts_with("Failure"));
        assert!(hc.evaluate(false).healthy);
        hc.disabled = true;
        assert!(hc.evaluate(true).healthy);
        assert!(hc.evaluate(false).healthy);
    }
}
