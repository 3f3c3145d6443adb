//! Claims: which scheduled fire of a drill has been started, by any scheduler. Two schedulers on
//! two hosts both wake for the same fire; the lease keeps them from running at once, and the claim
//! keeps the second from running the same fire again after the first finished. It is a TXT record
//! `_drill-fired.<drill>.<global-cluster>.<zone>` next to the lease, written (UPSERT) only while
//! holding the lease and before the run starts, so a run that crashed is not repeated by the other
//! host either: a crashed run needs `drill recover`, not a second attempt.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::cloud::{ChangeAction, CloudError, RecordChange, RecordSet, Route53};

use super::lease::Place;

const TAG: &str = "drill-fired";

/// The fire a scheduler last claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub fire: DateTime<Utc>,
    pub run_id: String,
    pub owner: String,
}

impl Claim {
    fn txt(&self) -> String {
        format!(
            "\"{TAG} v=1 fire={} run={} owner={}\"",
            self.fire.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.run_id,
            self.owner
        )
    }

    pub fn parse(value: &str) -> Option<Claim> {
        let text = value.trim().trim_matches('"');
        let mut words = text.split_whitespace();
        if words.next() != Some(TAG) || words.next() != Some("v=1") {
            return None;
        }
        let (mut fire, mut run_id, mut owner) = (None, None, None);
        for word in words {
            match word.split_once('=')? {
                ("fire", v) => fire = DateTime::parse_from_rfc3339(v).ok(),
                ("run", v) => run_id = Some(v.to_string()),
                ("owner", v) => owner = Some(v.to_string()),
                _ => {}
            }
        }
        Some(Claim {
            fire: fire?.with_timezone(&Utc),
            run_id: run_id?,
            owner: owner?,
        })
    }
}

/// `_drill-fired.<drill>.<global-cluster>.<zone>.`
pub fn claim_name(place: &Place, drill: &str) -> String {
    format!(
        "_drill-fired.{drill}.{}.{}",
        place.global_cluster.to_ascii_lowercase(),
        place.zone_name
    )
}

/// Claims `claim.fire` for `drill` unless that fire (or a later one) was already claimed, in which
/// case the earlier claim is returned. Call only while holding the drill's lease.
/// The claim already recorded for this fire or a later one, read only: a scheduler that finds
/// one refuses the fire without a single write. (`claim` checks again under the lease.)
pub async fn claimed(
    route53: &dyn Route53,
    place: &Place,
    drill: &str,
    fire: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Claim>, CloudError> {
    let name = claim_name(place, drill);
    Ok(route53
        .get_record(&place.key(&name))
        .await?
        .and_then(|r| Claim::parse(&r.values.join(" ")))
        .filter(|prior| prior.fire >= fire))
}

pub async fn claim(
    route53: &dyn Route53,
    place: &Place,
    drill: &str,
    claim: &Claim,
) -> Result<Option<Claim>, CloudError> {
    let name = claim_name(place, drill);
    if let Some(existing) = route53.get_record(&place.key(&name)).await? {
        match Claim::parse(&existing.values.join(" ")) {
            Some(prior) if prior.fire >= claim.fire => return Ok(Some(prior)),
            Some(_) => {}
            None => tracing::warn!(
                "the claim record {name} holds something else ({}); overwriting it",
                existing.values.join(" ")
            ),
        }
    }
    let record = RecordSet::simple(&name, "TXT", 60, &[claim.txt().as_str()]);
    route53
        .change_records(
            &place.zone_id,
            &[RecordChange {
                action: ChangeAction::Upsert,
                record,
            }],
            &format!("drill schedule: {drill} fire {}", claim.fire),
        )
        .await?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_round_trip() {
        let c = Claim {
            fire: DateTime::parse_from_rfc3339("2025-02-04T09:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            run_id: "r1".into(),
            owner: "h/1".into(),
        };
        assert_eq!(Claim::parse(&c.txt()), Some(c));
        assert_eq!(Claim::parse("\"drill-lease v=1\""), None);
    }
}
