//! The AWS regions a drill may name, by partition. Hardcoded on purpose: a drill file is checked
//! offline, and a typo such as `us-east-3` must fail validation rather than a preflight call.
//! Source: the partition table embedded in the AWS SDK's endpoint resolver (aws-sdk-rds 1.137).

/// Every region (not the `*-global` pseudo regions), with its partition.
pub const REGIONS: &[(&str, &str)] = &[
    ("af-south-1", "aws"),
    ("ap-east-1", "aws"),
    ("ap-east-2", "aws"),
    ("ap-northeast-1", "aws"),
    ("ap-northeast-2", "aws"),
    ("ap-northeast-3", "aws"),
    ("ap-south-1", "aws"),
    ("ap-south-2", "aws"),
    ("ap-southeast-1", "aws"),
    ("ap-southeast-2", "aws"),
    ("ap-southeast-3", "aws"),
    ("ap-southeast-4", "aws"),
    ("ap-southeast-5", "aws"),
    ("ap-southeast-6", "aws"),
    ("ap-southeast-7", "aws"),
    ("ca-central-1", "aws"),
    ("ca-west-1", "aws"),
    ("eu-central-1", "aws"),
    ("eu-central-2", "aws"),
    ("eu-north-1", "aws"),
    ("eu-south-1", "aws"),
    ("eu-south-2", "aws"),
    ("eu-west-1", "aws"),
    ("eu-west-2", "aws"),
    ("eu-west-3", "aws"),
    ("il-central-1", "aws"),
    ("me-central-1", "aws"),
    ("me-south-1", "aws"),
    ("mx-central-1", "aws"),
    ("sa-east-1", "aws"),
    ("us-east-1", "aws"),
    ("us-east-2", "aws"),
    ("us-west-1", "aws"),
    ("us-west-2", "aws"),
    ("cn-north-1", "aws-cn"),
    ("cn-northwest-1", "aws-cn"),
    ("us-gov-east-1", "aws-us-gov"),
    ("us-gov-west-1", "aws-us-gov"),
    ("eusc-de-east-1", "aws-eusc"),
    ("us-iso-east-1", "aws-iso"),
    ("us-iso-west-1", "aws-iso"),
    ("us-isob-east-1", "aws-iso-b"),
    ("us-isob-west-1", "aws-iso-b"),
    ("eu-isoe-west-1", "aws-iso-e"),
    ("us-isof-east-1", "aws-iso-f"),
    ("us-isof-south-1", "aws-iso-f"),
];

/// The partition (`aws`, `aws-cn`, `aws-us-gov`, `aws-eusc`, …) a region belongs to.
pub fn partition_of(region: &str) -> Option<&'static str> {
    REGIONS
        .iter()
        .find(|(name, _)| *name == region)
        .map(|(_, partition)| *partition)
}

pub fn is_partition(partition: &str) -> bool {
    REGIONS.iter().any(|(_, p)| *p == partition)
}

/// Ok(partition) for a known region; otherwise a message with the likeliest intended region.
pub(super) fn check(region: &str) -> Result<&'static str, String> {
    if let Some(partition) = partition_of(region) {
        return Ok(partition);
    }
    let lower = region.to_ascii_lowercase();
    let hint = if partition_of(&lower).is_some() {
        format!(" (region names are lower case: \"{lower}\")")
    } else if let Some(az_region) = lower
        .strip_suffix(|c: char| c.is_ascii_lowercase())
        .filter(|r| partition_of(r).is_some())
    {
        format!(" (that is an availability zone; the region is \"{az_region}\")")
    } else if let Some(s) = super::suggest::closest(region, REGIONS.iter().map(|(r, _)| *r)) {
        format!(" (did you mean \"{s}\"?)")
    } else {
        String::new()
    };
    Err(format!(
        "unknown AWS region \"{}\"{hint}",
        region.escape_debug()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_commercial_and_isolated_partitions() {
        assert_eq!(partition_of("us-east-1"), Some("aws"));
        assert_eq!(partition_of("ap-southeast-7"), Some("aws"));
        assert_eq!(partition_of("cn-northwest-1"), Some("aws-cn"));
        assert_eq!(partition_of("us-gov-west-1"), Some("aws-us-gov"));
        assert_eq!(partition_of("eusc-de-east-1"), Some("aws-eusc"));
        assert_eq!(partition_of("us-east-3"), None);
        assert!(is_partition("aws-eusc") && !is_partition("azure"));
    }

    #[test]
    fn unknown_regions_get_a_hint() {
        assert!(
            check("us-est-1")
                .unwrap_err()
                .contains("did you mean \"us-east-1\"")
        );
        assert!(check("US-EAST-1").unwrap_err().contains("lower case"));
        assert!(
            check("us-east-1a")
                .unwrap_err()
                .contains("availability zone")
        );
        assert_eq!(
            check("mars-north-1").unwrap_err(),
            "unknown AWS region \"mars-north-1\""
        );
    }
}
