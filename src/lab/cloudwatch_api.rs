//! CloudWatch's DescribeAlarms over the Smithy RPC v2 CBOR protocol, as current SDKs speak it:
//! `POST /service/GraniteServiceVersion20100801/operation/DescribeAlarms`, a CBOR map in and out,
//! timestamps as tag 1 epoch seconds. The region comes from the credential scope. Only what a
//! drill reads is modelled: metric alarms named by `[stop] alarms`, their state and reason.

use ciborium::Value;

use super::endpoint::AwsError;
use super::world::{LabAlarm, World};

/// The path prefix of every CloudWatch operation.
pub const PATH_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";

/// Runs `operation` with the CBOR `body`; returns the CBOR answer.
pub fn execute(
    world: &mut World,
    operation: &str,
    body: &[u8],
    region: &str,
    resource: &mut String,
) -> Result<Vec<u8>, AwsError> {
    let input: Value = if body.is_empty() {
        Value::Map(Vec::new())
    } else {
        ciborium::from_reader(body).map_err(|e| {
            AwsError::new(
                "SerializationException",
                format!("the body is not CBOR: {e}"),
            )
        })?
    };
    let output = match operation {
        "DescribeAlarms" => describe_alarms(world, &input, region, resource)?,
        _ => {
            return Err(AwsError::new(
                "UnknownOperationException",
                format!("the lab's CloudWatch does not implement {operation}"),
            ));
        }
    };
    let mut out = Vec::new();
    ciborium::into_writer(&output, &mut out)
        .map_err(|e| AwsError::new("InternalFailure", e.to_string()))?;
    Ok(out)
}

/// The CBOR error body: `{__type, message}`.
pub fn error_body(e: &AwsError) -> Vec<u8> {
    let value = Value::Map(vec![
        (
            text("__type"),
            text(&format!("com.amazonaws.cloudwatch#{}", e.code)),
        ),
        (text("message"), text(&e.message)),
    ]);
    let mut out = Vec::new();
    // Writing a map of two strings into a Vec cannot fail.
    let _ = ciborium::into_writer(&value, &mut out);
    out
}

fn describe_alarms(
    world: &World,
    input: &Value,
    region: &str,
    resource: &mut String,
) -> Result<Value, AwsError> {
    let names = strings(input, "AlarmNames")?;
    let prefix = string(input, "AlarmNamePrefix")?;
    let state = string(input, "StateValue")?;
    // Without AlarmTypes only metric alarms are returned, as CloudWatch does; the lab has no others.
    let types = strings(input, "AlarmTypes")?;
    if names.len() > 100 {
        return Err(AwsError::new(
            "ValidationError",
            "AlarmNames takes at most 100 names",
        ));
    }
    if !names.is_empty() && prefix.is_some() {
        return Err(AwsError::new(
            "InvalidParameterCombination",
            "AlarmNames and AlarmNamePrefix cannot be used together",
        ));
    }
    *resource = names.join(",");
    let metric = types.is_empty() || types.iter().any(|t| t == "MetricAlarm");
    let alarms: Vec<Value> = world
        .alarms
        .values()
        .filter(|a| metric && a.region == region)
        .filter(|a| names.is_empty() || names.contains(&a.name))
        .filter(|a| {
            prefix
                .as_ref()
                .is_none_or(|p| a.name.starts_with(p.as_str()))
        })
        .filter(|a| state.as_ref().is_none_or(|s| &a.state == s))
        .map(|a| alarm(world, a))
        .collect();
    Ok(Value::Map(vec![
        (text("MetricAlarms"), Value::Array(alarms)),
        (text("CompositeAlarms"), Value::Array(Vec::new())),
    ]))
}

fn alarm(world: &World, a: &LabAlarm) -> Value {
    let updated = world.truth.at(a.updated);
    let epoch = updated.timestamp() as f64 + f64::from(updated.timestamp_subsec_millis()) / 1000.0;
    Value::Map(vec![
        (text("AlarmName"), text(&a.name)),
        (text("AlarmArn"), text(&a.arn)),
        (text("ActionsEnabled"), Value::Bool(true)),
        (text("StateValue"), text(&a.state)),
        (text("StateReason"), text(&a.reason)),
        (
            text("StateUpdatedTimestamp"),
            Value::Tag(1, Box::new(Value::Float(epoch))),
        ),
        (text("Namespace"), text("Lab")),
        (text("MetricName"), text(&a.name)),
    ])
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn field<'v>(input: &'v Value, key: &str) -> Option<&'v Value> {
    input
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn string(input: &Value, key: &str) -> Result<Option<String>, AwsError> {
    match field(input, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Text(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AwsError::new(
            "SerializationException",
            format!("{key} must be a string"),
        )),
    }
}

fn strings(input: &Value, key: &str) -> Result<Vec<String>, AwsError> {
    let bad = || {
        AwsError::new(
            "SerializationException",
            format!("{key} must be a list of strings"),
        )
    };
    match field(input, key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_text().map(str::to_string).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}
