//! CloudWatch's alarms over both protocols current SDKs speak: Smithy RPC v2 CBOR (the Rust SDK:
//! `POST /service/GraniteServiceVersion20100801/operation/DescribeAlarms`, a CBOR map in and out,
//! timestamps as tag 1 epoch seconds) and AWS JSON 1.0 (botocore and the AWS CLI: `POST /` with
//! `X-Amz-Target: GraniteServiceVersion20100801.DescribeAlarms`, timestamps as epoch seconds).
//! Both are handled as one value tree. The region comes from the credential scope. Only what a
//! drill reads is modelled — metric alarms named by `[stop] alarms`, their state and reason — plus
//! SetAlarmState, the call AWS offers for testing alarms, so a person or a test can trip an alarm
//! in a served lab (`aws cloudwatch set-alarm-state`) while a drill runs against it.

use ciborium::Value;

use super::endpoint::AwsError;
use super::world::{LabAlarm, World};

/// The path prefix of every CloudWatch operation in RPC v2 CBOR.
pub const PATH_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";
/// The `X-Amz-Target` prefix of every CloudWatch operation in AWS JSON 1.0.
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801.";

/// How a request was encoded; the answer is encoded the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Cbor,
    Json,
}

impl Protocol {
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::Cbor => "application/cbor",
            Protocol::Json => "application/x-amz-json-1.0",
        }
    }
}

/// Runs `operation` with the `body`; returns the answer in the same protocol.
pub fn execute(
    world: &mut World,
    protocol: Protocol,
    operation: &str,
    body: &[u8],
    region: &str,
    resource: &mut String,
) -> Result<Vec<u8>, AwsError> {
    let malformed = |what: &str, e: String| {
        AwsError::new(
            "SerializationException",
            format!("the body is not {what}: {e}"),
        )
    };
    let input: Value = match protocol {
        _ if body.is_empty() => Value::Map(Vec::new()),
        Protocol::Cbor => {
            ciborium::from_reader(body).map_err(|e| malformed("CBOR", e.to_string()))?
        }
        Protocol::Json => serde_json::from_slice::<serde_json::Value>(body)
            .map(|v| from_json(&v))
            .map_err(|e| malformed("JSON", e.to_string()))?,
    };
    let output = match operation {
        "DescribeAlarms" => describe_alarms(world, &input, region, resource)?,
        "SetAlarmState" => set_alarm_state(world, &input, region, resource)?,
        _ => {
            return Err(AwsError::new(
                "UnknownOperationException",
                format!("the lab's CloudWatch does not implement {operation}"),
            ));
        }
    };
    encode(protocol, &output)
}

fn encode(protocol: Protocol, value: &Value) -> Result<Vec<u8>, AwsError> {
    match protocol {
        Protocol::Cbor => {
            let mut out = Vec::new();
            ciborium::into_writer(value, &mut out)
                .map_err(|e| AwsError::new("InternalFailure", e.to_string()))?;
            Ok(out)
        }
        Protocol::Json => serde_json::to_vec(&to_json(value))
            .map_err(|e| AwsError::new("InternalFailure", e.to_string())),
    }
}

/// The error body: `{__type, message}`.
pub fn error_body(protocol: Protocol, e: &AwsError) -> Vec<u8> {
    let value = Value::Map(vec![
        (
            text("__type"),
            text(&format!("com.amazonaws.cloudwatch#{}", e.code)),
        ),
        (text("message"), text(&e.message)),
    ]);
    // Encoding a map of two strings cannot fail.
    encode(protocol, &value).unwrap_or_default()
}

/// A JSON request body as the value tree the handlers read.
fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i.into()),
            None => Value::Float(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::Text(k.clone()), from_json(v)))
                .collect(),
        ),
    }
}

/// An answer as JSON: timestamps (tag 1) become epoch seconds.
fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Integer(i) => serde_json::json!(i128::from(*i)),
        Value::Float(f) => serde_json::json!(f),
        Value::Text(s) => serde_json::Value::String(s.clone()),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => serde_json::Value::Object(
            m.iter()
                .filter_map(|(k, v)| Some((k.as_text()?.to_string(), to_json(v))))
                .collect(),
        ),
        Value::Tag(_, inner) => to_json(inner),
        _ => serde_json::Value::Null,
    }
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

fn set_alarm_state(
    world: &mut World,
    input: &Value,
    region: &str,
    resource: &mut String,
) -> Result<Value, AwsError> {
    let required = |key: &str, v: Option<String>| {
        v.ok_or_else(|| AwsError::new("ValidationError", format!("{key} is required")))
    };
    let name = required("AlarmName", string(input, "AlarmName")?)?;
    let state = required("StateValue", string(input, "StateValue")?)?;
    let reason = required("StateReason", string(input, "StateReason")?)?;
    *resource = name.clone();
    if !matches!(state.as_str(), "OK" | "ALARM" | "INSUFFICIENT_DATA") {
        return Err(AwsError::new(
            "ValidationError",
            format!("StateValue {state} is not one of OK, ALARM, INSUFFICIENT_DATA"),
        ));
    }
    let now = world.now;
    let Some(alarm) = world.alarms.get_mut(&(region.to_string(), name.clone())) else {
        return Err(AwsError::new(
            "ResourceNotFound",
            format!("alarm {name} does not exist in {region}"),
        ));
    };
    alarm.state = state.clone();
    alarm.reason = reason;
    alarm.updated = now;
    world
        .truth
        .state(now, format!("alarm {name} ({region})"), state);
    Ok(Value::Map(Vec::new()))
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
