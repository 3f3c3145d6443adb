//! Small pieces of the AWS wire shared by both services: form / query-string decoding, the SigV4
//! credential scope (which names the caller's access key and, for RDS, the region), timestamps.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

/// Decodes `a=1&b=x%20y+z` into a map (later keys win).
pub fn decode_form(input: &str) -> BTreeMap<String, String> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Percent-decoding with `+` as space (form encoding).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The credential scope of a SigV4-signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

/// Reads the credential scope from an `Authorization` header
/// (`AWS4-HMAC-SHA256 Credential=AKID/20240101/us-west-2/rds/aws4_request, …`) or from a
/// presigned query (`X-Amz-Credential`). None if the request is not signed; Err if it is signed
/// but the scope is malformed.
pub fn credential(
    authorization: Option<&str>,
    query: &BTreeMap<String, String>,
) -> Option<Result<Credential, String>> {
    let scope = match authorization {
        Some(auth) => {
            let rest = auth.trim().strip_prefix("AWS4-HMAC-SHA256");
            let Some(rest) = rest else {
                return Some(Err(format!(
                    "Authorization header requires 'AWS4-HMAC-SHA256' signing; got '{}'",
                    auth.split_whitespace().next().unwrap_or_default()
                )));
            };
            let cred = rest
                .split(',')
                .map(str::trim)
                .find_map(|part| part.strip_prefix("Credential="));
            match cred {
                Some(c) => c.to_string(),
                None => {
                    return Some(Err(
                        "Authorization header requires 'Credential' parameter.".into()
                    ));
                }
            }
        }
        None => query.get("X-Amz-Credential")?.clone(),
    };
    let parts: Vec<&str> = scope.split('/').collect();
    Some(match parts.as_slice() {
        [key, date, region, service, "aws4_request"] if !key.is_empty() && !region.is_empty() => {
            Ok(Credential {
                access_key: key.to_string(),
                date: date.to_string(),
                region: region.to_string(),
                service: service.to_string(),
            })
        }
        _ => Err(format!(
            "Credential should be scoped to a valid region and service: '{scope}'"
        )),
    })
}

/// AWS's timestamp format: `2024-01-01T00:00:00.000Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        let f = decode_form(
            "Action=DescribeGlobalClusters&Version=2014-10-31&Id=arn%3Aaws%3Ards&x=a+b&empty=",
        );
        assert_eq!(f["Action"], "DescribeGlobalClusters");
        assert_eq!(f["Id"], "arn:aws:rds");
        assert_eq!(f["x"], "a b");
        assert_eq!(f["empty"], "");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn reads_the_credential_scope() {
        let auth = "AWS4-HMAC-SHA256 Credential=LABACCESSKEY/20240101/us-west-2/rds/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        let c = credential(Some(auth), &BTreeMap::new()).unwrap().unwrap();
        assert_eq!(c.access_key, "LABACCESSKEY");
        assert_eq!(c.region, "us-west-2");
        assert_eq!(c.service, "rds");
        assert!(credential(None, &BTreeMap::new()).is_none());
        assert!(
            credential(Some("AWS4-HMAC-SHA256 Credential=x/y"), &BTreeMap::new())
                .unwrap()
                .is_err()
        );
        assert!(
            credential(Some("Basic abc"), &BTreeMap::new())
                .unwrap()
                .is_err()
        );
        let q = BTreeMap::from([(
            "X-Amz-Credential".to_string(),
            "K/20240101/eu-west-1/rds/aws4_request".to_string(),
        )]);
        assert_eq!(credential(None, &q).unwrap().unwrap().region, "eu-west-1");
    }
}
