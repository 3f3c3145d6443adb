//! Reading record sets the way a large estate needs: one paginated listing per zone (narrowed to
//! the span of the names wanted), every zone at once, instead of one call per record. Route 53
//! allows 5 requests a second per account, so the number of calls is the drill's speed.

use std::collections::{BTreeMap, BTreeSet};

use crate::cloud::{Cloud, CloudError, NameSpan, RecordKey, RecordSet};

/// What one zone's listing found for the keys asked: present keys map to their record set; a key
/// that is absent does not exist.
pub type Found = BTreeMap<RecordKey, RecordSet>;

/// Lists each zone of `keys` once (over the span of their names) and returns the record set of
/// every key that exists, per zone. Zones are read concurrently; each zone's result is its own,
/// so one unreadable zone does not hide what the others hold.
pub async fn by_zone<'k>(
    cloud: &Cloud,
    keys: impl IntoIterator<Item = &'k RecordKey>,
) -> BTreeMap<String, Result<Found, CloudError>> {
    let mut zones: BTreeMap<&str, BTreeSet<&RecordKey>> = BTreeMap::new();
    for key in keys {
        zones.entry(key.zone_id.as_str()).or_default().insert(key);
    }
    let reads = zones.into_iter().map(|(zone, wanted)| async move {
        let span = NameSpan::covering(wanted.iter().map(|k| k.name.as_str()));
        let found = cloud
            .route53
            .list_records(zone, &span)
            .await
            .map(|listing| pick(zone, &wanted, listing));
        (zone.to_string(), found)
    });
    futures::future::join_all(reads).await.into_iter().collect()
}

/// Every key's record set, or the first zone's error.
pub async fn all<'k>(
    cloud: &Cloud,
    keys: impl IntoIterator<Item = &'k RecordKey>,
) -> Result<Found, CloudError> {
    let mut out = Found::new();
    for (_, found) in by_zone(cloud, keys).await {
        out.extend(found?);
    }
    Ok(out)
}

/// The wanted keys' record sets out of a zone's listing.
pub fn pick(zone: &str, wanted: &BTreeSet<&RecordKey>, listing: Vec<RecordSet>) -> Found {
    listing
        .into_iter()
        .filter_map(|r| {
            let key = r.key(zone);
            wanted.contains(&key).then_some((key, r))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::memory::MemoryCloud;

    fn key(zone: &str, name: &str, id: &str) -> RecordKey {
        RecordKey {
            zone_id: zone.to_string(),
            name: name.to_string(),
            rtype: "A".to_string(),
            set_identifier: Some(id.to_string()),
        }
    }

    fn weighted(name: &str, id: &str) -> RecordSet {
        let mut r = RecordSet::simple(name, "A", 300, &["192.0.2.1"]);
        r.set_identifier = Some(id.to_string());
        r.weight = Some(1);
        r
    }

    #[tokio::test]
    async fn one_listing_per_zone_page_reads_every_key() {
        let mem = MemoryCloud::new();
        for (zone, name) in [("Z1", "a.one.test."), ("Z2", "b.two.test.")] {
            mem.add_zone(zone, &name[2..]);
        }
        let mut keys = Vec::new();
        for i in 0..400 {
            let name = format!("n{i:04}.one.test.");
            mem.put_record("Z1", weighted(&name, "east"));
            keys.push(key("Z1", &name, "east"));
        }
        mem.put_record("Z2", weighted("b.two.test.", "west"));
        keys.push(key("Z2", "b.two.test.", "west"));
        let missing = key("Z2", "c.two.test.", "west");
        keys.push(missing.clone());

        let found = all(&mem.cloud(), &keys).await.unwrap();
        assert_eq!(found.len(), 401);
        assert!(!found.contains_key(&missing));
        // 400 records in Z1 take two pages of 300; Z2 one page.
        let lists = mem
            .calls()
            .iter()
            .filter(|c| c.starts_with("ListResourceRecordSets"))
            .count();
        assert_eq!(lists, 3);
    }

    #[tokio::test]
    async fn an_unreadable_zone_leaves_the_others_readable() {
        let mem = MemoryCloud::new();
        mem.add_zone("Z1", "one.test");
        mem.put_record("Z1", weighted("a.one.test.", "east"));
        let keys = [
            key("Z1", "a.one.test.", "east"),
            key("Z9", "a.nine.test.", "east"),
        ];
        let read = by_zone(&mem.cloud(), &keys).await;
        assert_eq!(read["Z1"].as_ref().unwrap().len(), 1);
        assert!(read["Z9"].is_err());
    }
}
