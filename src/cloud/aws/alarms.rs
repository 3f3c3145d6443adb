//! The `Alarms` trait over aws-sdk-cloudwatch. Alarms may live in any region of the partition, so
//! clients are built on first use per region from the shared SDK configuration (or come ready-made
//! from tests).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::Region;
use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use chrono::{DateTime, Utc};

use super::errors::from_sdk;
use crate::cloud::{AlarmState, Alarms, CloudError};

/// DescribeAlarms takes at most 100 names per call.
const NAMES_PER_CALL: usize = 100;

pub(crate) struct AwsAlarms {
    /// Where new regional clients come from; None when only the given clients may be used.
    config: Option<SdkConfig>,
    clients: Mutex<HashMap<String, Client>>,
}

impl AwsAlarms {
    pub(crate) fn new(config: Option<SdkConfig>, clients: HashMap<String, Client>) -> Self {
        AwsAlarms {
            config,
            clients: Mutex::new(clients),
        }
    }

    fn client(&self, region: &str, resource: &str) -> Result<Client, CloudError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(region) {
            return Ok(client.clone());
        }
        let Some(config) = &self.config else {
            return Err(CloudError::Config {
                operation: "DescribeAlarms".to_string(),
                resource: resource.to_string(),
                message: format!("no CloudWatch client for region {region:?}"),
            });
        };
        let client = Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(config)
                .region(Region::new(region.to_string()))
                .interceptor(super::CallLog)
                .build(),
        );
        clients.insert(region.to_string(), client.clone());
        Ok(client)
    }
}

#[async_trait]
impl Alarms for AwsAlarms {
    async fn describe_alarms(
        &self,
        region: &str,
        names: &[String],
    ) -> Result<Vec<AlarmState>, CloudError> {
        const OP: &str = "DescribeAlarms";
        let mut found = Vec::new();
        for chunk in names.chunks(NAMES_PER_CALL) {
            let resource = format!("alarms {} in {region}", chunk.join(", "));
            let client = self.client(region, &resource)?;
            let mut token = None;
            loop {
                let out = client
                    .describe_alarms()
                    .set_alarm_names(Some(chunk.to_vec()))
                    .alarm_types(AlarmType::MetricAlarm)
                    .alarm_types(AlarmType::CompositeAlarm)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| from_sdk(OP, &resource, e))?;
                for a in out.metric_alarms() {
                    found.push(state(
                        a.alarm_name(),
                        a.alarm_arn(),
                        a.state_value(),
                        a.state_reason(),
                        a.state_updated_timestamp(),
                    ));
                }
                for a in out.composite_alarms() {
                    found.push(state(
                        a.alarm_name(),
                        a.alarm_arn(),
                        a.state_value(),
                        a.state_reason(),
                        a.state_updated_timestamp(),
                    ));
                }
                match out.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_string()),
                    _ => break,
                }
            }
        }
        Ok(found)
    }
}

fn state(
    name: Option<&str>,
    arn: Option<&str>,
    value: Option<&StateValue>,
    reason: Option<&str>,
    updated: Option<&aws_smithy_types::DateTime>,
) -> AlarmState {
    AlarmState {
        name: name.unwrap_or_default().to_string(),
        arn: arn.unwrap_or_default().to_string(),
        state: value
            .map(|v| v.as_str().to_string())
            .unwrap_or_else(|| "UNKNOWN".to_string()),
        reason: reason.unwrap_or_default().to_string(),
        updated_at: updated
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())),
    }
}
