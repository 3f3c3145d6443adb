//! The traffic rules of a group: what makes a weighted shift or a failover pair complete. A drill
//! that would leave traffic behind, or shift nothing, is rejected here.

use std::collections::BTreeMap;

use super::model::Regions;
use super::reader::{Reader, Table};
use super::records::Draft;

/// Every weighted record names its set, region and drill weight; each weighted set (records sharing
/// name and type) lists its primary-region records at weight 0 and gives the secondary region weight.
pub(super) fn weighted(r: &mut Reader, group: &Table, drafts: &[Draft], regions: Option<&Regions>) {
    for d in drafts {
        require(
            r,
            d,
            "every record of a weighted group needs it",
            &[(
                d.drill_weight.is_absent(),
                "drill_weight",
                "its weight during the drill, 0 to 255",
            )],
        );
    }
    let Some(regions) = regions else { return };
    for d in drafts {
        if let (Some(region), Some(w)) = (d.region(), d.drill_weight.as_present())
            && region == regions.primary
            && w.value != 0
        {
            r.conflict(
                w.span.clone(),
                d.table.key("drill_weight"),
                format!(
                    "drill_weight must be 0 for records in the primary region ({}): the drill moves all traffic to the secondary region",
                    regions.primary
                ),
            );
        }
    }

    // Judge the sets only when every record reads cleanly and points at one of the two regions;
    // otherwise the problem already reported would echo here as a missing primary or secondary.
    let judged = drafts.iter().all(|d| {
        d.label().is_some()
            && d.weight().is_some()
            && d.region()
                .is_some_and(|x| x == regions.primary || x == regions.secondary)
    });
    if !judged {
        return;
    }
    let mut sets: BTreeMap<String, Vec<&Draft>> = BTreeMap::new();
    for d in drafts {
        if let Some(label) = d.label() {
            sets.entry(label).or_default().push(d);
        }
    }
    for (label, set) in sets {
        let first = set[0];
        if !set
            .iter()
            .any(|d| d.region() == Some(regions.primary.as_str()))
        {
            r.conflict(
                first.table.span.clone(),
                group.key("records"),
                format!(
                    "{label}: no record in the primary region ({}); list the primary-region records with drill_weight = 0, because records the file does not list keep their weight during the drill",
                    regions.primary
                ),
            );
        }
        let moves = set
            .iter()
            .any(|d| d.region() == Some(regions.secondary.as_str()) && d.weight() > Some(0));
        if !moves {
            r.conflict(
                first.table.span.clone(),
                group.key("records"),
                format!(
                    "{label}: no record in the secondary region ({}) has drill_weight > 0, so the drill would not move its traffic",
                    regions.secondary
                ),
            );
        }
    }
}

/// A failover group is one failover pair: the PRIMARY record in the primary region and the SECONDARY
/// record in the secondary region, same name and type.
pub(super) fn failover(r: &mut Reader, group: &Table, drafts: &[Draft], regions: Option<&Regions>) {
    if drafts.len() != 2 {
        // Point at the first record too many, or at the group when one is missing.
        let span = drafts
            .get(2)
            .map_or(group.span.clone(), |d| d.table.span.clone());
        r.conflict(
            span,
            group.key("records"),
            format!(
                "traffic = \"failover\" needs exactly two records (the PRIMARY and SECONDARY of one failover pair), found {}",
                drafts.len()
            ),
        );
        return;
    }
    for d in drafts {
        require(r, d, "both records of a failover pair need it", &[]);
    }
    let (a, b) = (&drafts[0], &drafts[1]);
    if let (Some(regions), Some(ra), Some(rb)) = (regions, a.region(), b.region()) {
        let pair = [ra, rb];
        let complete =
            pair.contains(&regions.primary.as_str()) && pair.contains(&regions.secondary.as_str());
        if !complete {
            let span = b
                .region
                .as_present()
                .map(|x| x.span.clone())
                .unwrap_or(b.table.span.clone());
            r.conflict(
                span,
                b.table.key("region"),
                format!(
                    "the records point at {ra} and {rb}; a failover pair needs one record in the primary region ({}) and one in the secondary region ({})",
                    regions.primary, regions.secondary
                ),
            );
        }
    }
    if let (Some(la), Some(lb)) = (a.label(), b.label())
        && la != lb
    {
        let span = b
            .name
            .as_present()
            .map(|x| x.span.clone())
            .unwrap_or(b.table.span.clone());
        r.conflict(
            span,
            b.table.key("name"),
            format!("the two records of a failover pair share name and type, but these are {la} and {lb}"),
        );
    }
}

/// Reports each key a record of this kind of group must have and lacks: its set identifier and
/// region always, and `more`, as (absent, key, what it holds); `who_needs_it` starts the message.
fn require(r: &mut Reader, d: &Draft, who_needs_it: &str, more: &[(bool, &str, &str)]) {
    let always = [
        (
            d.set_identifier.is_absent(),
            "set_identifier",
            "its set identifier in Route 53",
        ),
        (
            d.region.is_absent(),
            "region",
            "the region it sends traffic to",
        ),
    ];
    for &(absent, key, what) in always.iter().chain(more) {
        if absent {
            r.missing(
                &d.table,
                key,
                format!("missing `{key}`: {who_needs_it} ({what})"),
            );
        }
    }
}
