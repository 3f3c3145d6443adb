//! `[[groups.records]]`: one record as written, checked on its own and against its zone and the
//! drill's regions. Group-level rules are applied to the drafts afterwards.

use super::checks;
use super::drill::check;
use super::model::{RecordSpec, Regions};
use super::reader::{At, Field, Reader, Table};
use super::regions;

const RECORD_KEYS: &[&str] = &["name", "type", "set_identifier", "region", "drill_weight"];

/// One `[[groups.records]]` as read, before the group's traffic rules are applied.
pub(super) struct Draft<'d, 'i> {
    pub table: Table<'d, 'i>,
    /// Fully qualified, lower case.
    pub name: Field<At<String>>,
    /// Upper case.
    pub rtype: Field<At<String>>,
    pub set_identifier: Field<At<String>>,
    pub region: Field<At<String>>,
    pub drill_weight: Field<At<i64>>,
}

impl Draft<'_, '_> {
    pub fn spec(&self) -> Option<RecordSpec> {
        let optional = |f: &Field<At<String>>| match f {
            Field::Present(v) => Some(Some(v.value.clone())),
            Field::Absent => Some(None),
            Field::Invalid => None,
        };
        Some(RecordSpec {
            name: self.name.as_present()?.value.clone(),
            rtype: self.rtype.as_present()?.value.clone(),
            set_identifier: optional(&self.set_identifier)?,
            region: optional(&self.region)?,
            drill_weight: match &self.drill_weight {
                Field::Present(w) => Some(w.value),
                Field::Absent => None,
                Field::Invalid => return None,
            },
        })
    }

    pub fn region(&self) -> Option<&str> {
        self.region.as_present().map(|r| r.value.as_str())
    }

    pub fn weight(&self) -> Option<i64> {
        self.drill_weight.as_present().map(|w| w.value)
    }

    /// `api.example.com. A`, for messages.
    pub fn label(&self) -> Option<String> {
        Some(format!(
            "{} {}",
            self.name.as_present()?.value,
            self.rtype.as_present()?.value
        ))
    }
}
/// Reads `records`; None when the list itself is unusable (each record's own problems are kept in
/// its draft).
pub(super) fn read<'d, 'i>(
    r: &mut Reader,
    group: &Table<'d, 'i>,
    zone: Option<&str>,
    regions: Option<&Regions>,
) -> Option<Vec<Draft<'d, 'i>>> {
    let records = match r.tables(group, "records", "one or more [[groups.records]] tables") {
        Field::Present(t) => t,
        Field::Absent => {
            r.missing(
                group,
                "records",
                "missing [[groups.records]] or [groups.select]: a group needs records to shift; list them, or select them by name",
            );
            return None;
        }
        Field::Invalid => return None,
    };
    if records.value.is_empty() {
        r.conflict(
            records.span,
            group.key("records"),
            "a group needs at least one record",
        );
        return None;
    }
    Some(
        records
            .value
            .into_iter()
            .map(|table| read_record(r, table, zone, regions))
            .collect(),
    )
}

fn read_record<'d, 'i>(
    r: &mut Reader,
    table: Table<'d, 'i>,
    zone: Option<&str>,
    regions: Option<&Regions>,
) -> Draft<'d, 'i> {
    r.keys(&table, RECORD_KEYS);
    let t = &table;

    let name = match r.string(t, "name", "a DNS name such as \"api.example.com\"") {
        Field::Present(n) => match check(r, t, "name", &n, checks::dns_name(&n.value, true)) {
            Some(fqdn) => {
                if let Some(zone) = zone {
                    let inside = fqdn == zone || fqdn.ends_with(&format!(".{zone}"));
                    if !inside {
                        r.conflict(
                            n.span.clone(),
                            t.key("name"),
                            format!("{fqdn} is not inside the group's zone {zone}"),
                        );
                    }
                }
                Field::Present(At {
                    value: fqdn,
                    span: n.span,
                })
            }
            None => Field::Invalid,
        },
        Field::Absent => {
            r.missing(
                t,
                "name",
                "missing required key `name` (the record's DNS name)",
            );
            Field::Invalid
        }
        Field::Invalid => Field::Invalid,
    };

    let rtype = match r.string(t, "type", "a record type such as \"A\"") {
        Field::Present(ty) => match check(r, t, "type", &ty, checks::record_type(&ty.value)) {
            Some(upper) => Field::Present(At {
                value: upper,
                span: ty.span,
            }),
            None => Field::Invalid,
        },
        Field::Absent => {
            r.missing(t, "type", "missing required key `type` (A, AAAA, CNAME, …)");
            Field::Invalid
        }
        Field::Invalid => Field::Invalid,
    };
    if let (Field::Present(n), Field::Present(ty), Some(zone)) = (&name, &rtype, zone)
        && ty.value == "CNAME"
        && n.value == zone
    {
        r.conflict(
            ty.span.clone(),
            t.key("type"),
            format!(
                "a CNAME cannot sit at the zone apex ({zone}); use an alias A/AAAA record there"
            ),
        );
    }

    let set_identifier = match r.string(
        t,
        "set_identifier",
        "the record's set identifier as a string",
    ) {
        Field::Present(s) => {
            match check(r, t, "set_identifier", &s, checks::set_identifier(&s.value)) {
                Some(()) => Field::Present(s),
                None => Field::Invalid,
            }
        }
        other => other,
    };

    let region = match r.string(t, "region", "an AWS region name such as \"us-east-1\"") {
        Field::Present(reg) => match check(r, t, "region", &reg, regions::check(&reg.value)) {
            Some(_) => {
                if let Some(regions) = regions
                    && reg.value != regions.primary
                    && reg.value != regions.secondary
                {
                    r.conflict(
                        reg.span.clone(),
                        t.key("region"),
                        format!(
                            "region {} is neither regions.primary ({}) nor regions.secondary ({})",
                            reg.value, regions.primary, regions.secondary
                        ),
                    );
                }
                Field::Present(reg)
            }
            None => Field::Invalid,
        },
        other => other,
    };

    let drill_weight = match r.integer(t, "drill_weight", "a whole number 0 to 255") {
        Field::Present(w) if (0..=255).contains(&w.value) => Field::Present(w),
        Field::Present(w) => {
            r.error(
                w.span,
                t.key("drill_weight"),
                format!(
                    "drill_weight {} is out of range: Route 53 weights are 0 to 255",
                    w.value
                ),
            );
            Field::Invalid
        }
        other => other,
    };

    Draft {
        table,
        name,
        rtype,
        set_identifier,
        region,
        drill_weight,
    }
}
