//! The `GlobalDatabase` trait over aws-sdk-rds: one client per region, global clusters and their
//! members, switchover (planned) and failover (unplanned, data loss allowed).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types as sdk;

use super::errors::{from_sdk, malformed};
use crate::cloud::{
    CloudError, DbCluster, FailoverState, GlobalCluster, GlobalDatabase, GlobalMember,
    region_of_arn,
};

pub(crate) struct AwsGlobalDatabase {
    clients: HashMap<String, Client>,
}

impl AwsGlobalDatabase {
    pub(crate) fn new(clients: HashMap<String, Client>) -> Self {
        AwsGlobalDatabase { clients }
    }

    fn client(&self, region: &str, operation: &str, resource: &str) -> Result<&Client, CloudError> {
        self.clients.get(region).ok_or_else(|| {
            let mut known: Vec<&str> = self.clients.keys().map(String::as_str).collect();
            known.sort_unstable();
            CloudError::Config {
                operation: operation.to_string(),
                resource: resource.to_string(),
                message: format!(
                    "no RDS client for region {region:?}; the configured regions are [{}]",
                    known.join(", ")
                ),
            }
        })
    }
}

#[async_trait]
impl GlobalDatabase for AwsGlobalDatabase {
    async fn describe_global_cluster(
        &self,
        region: &str,
        global_cluster_id: &str,
    ) -> Result<GlobalCluster, CloudError> {
        const OP: &str = "DescribeGlobalClusters";
        let resource = format!("global cluster {global_cluster_id} (via {region})");
        let out = self
            .client(region, OP, &resource)?
            .describe_global_clusters()
            .global_cluster_identifier(global_cluster_id)
            .send()
            .await
            .map_err(|e| from_sdk(OP, &resource, e))?;
        // Filter again: the identifier filter is the server's promise, the id match is ours.
        let cluster = out
            .global_clusters()
            .iter()
            .find(|c| {
                c.global_cluster_identifier
                    .as_deref()
                    .is_some_and(|id| id.eq_ignore_ascii_case(global_cluster_id))
            })
            .ok_or_else(|| CloudError::NotFound {
                resource: resource.clone(),
                code: "GlobalClusterNotFoundFault".to_string(),
            })?;
        global_cluster(cluster, &resource)
    }

    async fn describe_cluster(&self, region: &str, cluster: &str) -> Result<DbCluster, CloudError> {
        const OP: &str = "DescribeDBClusters";
        let resource = format!("DB cluster {cluster} in {region}");
        let out = self
            .client(region, OP, &resource)?
            .describe_db_clusters()
            .db_cluster_identifier(cluster)
            .send()
            .await
            .map_err(|e| from_sdk(OP, &resource, e))?;
        let found = out
            .db_clusters()
            .iter()
            .find(|c| {
                c.db_cluster_identifier.as_deref() == Some(cluster)
                    || c.db_cluster_arn.as_deref() == Some(cluster)
            })
            .or_else(|| match out.db_clusters() {
                [only] => Some(only),
                _ => None,
            })
            .ok_or_else(|| CloudError::NotFound {
                resource: resource.clone(),
                code: "DBClusterNotFoundFault".to_string(),
            })?;
        let missing = |what| malformed(OP, &resource, &format!("the cluster has no {what}"));
        let arn = found
            .db_cluster_arn
            .clone()
            .ok_or_else(|| missing("DBClusterArn"))?;
        Ok(DbCluster {
            id: found
                .db_cluster_identifier
                .clone()
                .ok_or_else(|| missing("DBClusterIdentifier"))?,
            region: region_of_arn(&arn).unwrap_or(region).to_string(),
            status: found.status.clone().unwrap_or_default(),
            arn,
        })
    }

    async fn switchover(
        &self,
        region: &str,
        global_cluster_id: &str,
        target_cluster_arn: &str,
    ) -> Result<(), CloudError> {
        const OP: &str = "SwitchoverGlobalCluster";
        let resource = format!("global cluster {global_cluster_id} to {target_cluster_arn}");
        self.client(region, OP, &resource)?
            .switchover_global_cluster()
            .global_cluster_identifier(global_cluster_id)
            .target_db_cluster_identifier(target_cluster_arn)
            .send()
            .await
            .map_err(|e| from_sdk(OP, &resource, e))?;
        Ok(())
    }

    async fn failover(
        &self,
        region: &str,
        global_cluster_id: &str,
        target_cluster_arn: &str,
    ) -> Result<(), CloudError> {
        const OP: &str = "FailoverGlobalCluster";
        let resource = format!("global cluster {global_cluster_id} to {target_cluster_arn}");
        self.client(region, OP, &resource)?
            .failover_global_cluster()
            .global_cluster_identifier(global_cluster_id)
            .target_db_cluster_identifier(target_cluster_arn)
            .allow_data_loss(true)
            .send()
            .await
            .map_err(|e| from_sdk(OP, &resource, e))?;
        Ok(())
    }
}

fn global_cluster(
    cluster: &sdk::GlobalCluster,
    resource: &str,
) -> Result<GlobalCluster, CloudError> {
    let id = cluster.global_cluster_identifier.clone().ok_or_else(|| {
        malformed(
            "DescribeGlobalClusters",
            resource,
            "the cluster has no GlobalClusterIdentifier",
        )
    })?;
    let members = cluster
        .global_cluster_members()
        .iter()
        .map(|m| member(m, resource))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(GlobalCluster {
        id,
        arn: cluster.global_cluster_arn.clone().unwrap_or_default(),
        status: cluster.status.clone().unwrap_or_default(),
        engine: cluster.engine.clone().unwrap_or_default(),
        members,
        // Present only while a switchover or failover runs; an element without a status is none.
        failover_state: cluster.failover_state.as_ref().and_then(|f| {
            f.status.as_ref().map(|status| FailoverState {
                status: status.as_str().to_string(),
                from_cluster_arn: f.from_db_cluster_arn.clone(),
                to_cluster_arn: f.to_db_cluster_arn.clone(),
                is_data_loss_allowed: f.is_data_loss_allowed.unwrap_or(false),
            })
        }),
    })
}

fn member(m: &sdk::GlobalClusterMember, resource: &str) -> Result<GlobalMember, CloudError> {
    const OP: &str = "DescribeGlobalClusters";
    let arn = m
        .db_cluster_arn
        .clone()
        .ok_or_else(|| malformed(OP, resource, "a member has no DBClusterArn"))?;
    let region = region_of_arn(&arn)
        .ok_or_else(|| malformed(OP, resource, &format!("member ARN {arn:?} names no region")))?
        .to_string();
    Ok(GlobalMember {
        region,
        is_writer: m.is_writer.unwrap_or(false),
        readers: m.readers().to_vec(),
        synchronization_status: m
            .synchronization_status
            .as_ref()
            .map(|s| s.as_str().to_string()),
        write_forwarding_status: m
            .global_write_forwarding_status
            .as_ref()
            .map(|s| s.as_str().to_string()),
        cluster_arn: arn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk_cluster() -> sdk::GlobalCluster {
        sdk::GlobalCluster::builder()
            .global_cluster_identifier("app-global")
            .global_cluster_arn("arn:aws:rds::123456789012:global-cluster:app-global")
            .status("switching-over")
            .engine("aurora-postgresql")
            .global_cluster_members(
                sdk::GlobalClusterMember::builder()
                    .db_cluster_arn("arn:aws:rds:us-east-1:123456789012:cluster:app-use1")
                    .is_writer(true)
                    .readers("arn:aws:rds:us-west-2:123456789012:cluster:app-usw2")
                    .build(),
            )
            .global_cluster_members(
                sdk::GlobalClusterMember::builder()
                    .db_cluster_arn("arn:aws:rds:us-west-2:123456789012:cluster:app-usw2")
                    .is_writer(false)
                    .synchronization_status(
                        sdk::GlobalClusterMemberSynchronizationStatus::Connected,
                    )
                    .global_write_forwarding_status(sdk::WriteForwardingStatus::Disabled)
                    .build(),
            )
            .failover_state(
                sdk::FailoverState::builder()
                    .status(sdk::FailoverStatus::from("switching-over"))
                    .from_db_cluster_arn("arn:aws:rds:us-east-1:123456789012:cluster:app-use1")
                    .to_db_cluster_arn("arn:aws:rds:us-west-2:123456789012:cluster:app-usw2")
                    .is_data_loss_allowed(false)
                    .build(),
            )
            .build()
    }

    #[test]
    fn a_global_cluster_converts_member_by_member() {
        let cluster = global_cluster(&sdk_cluster(), "global cluster app-global").expect("ok");
        assert_eq!(cluster.id, "app-global");
        assert_eq!(cluster.status, "switching-over");
        let writer = cluster.writer().expect("writer");
        assert_eq!(writer.region, "us-east-1");
        assert_eq!(
            writer.readers,
            vec!["arn:aws:rds:us-west-2:123456789012:cluster:app-usw2".to_string()]
        );
        let secondary = &cluster.members[1];
        assert_eq!(secondary.region, "us-west-2");
        assert!(!secondary.is_writer);
        assert_eq!(
            secondary.synchronization_status.as_deref(),
            Some("connected")
        );
        assert_eq!(
            secondary.write_forwarding_status.as_deref(),
            Some("disabled")
        );
        assert_eq!(
            cluster.failover_state,
            Some(FailoverState {
                status: "switching-over".into(),
                from_cluster_arn: Some(
                    "arn:aws:rds:us-east-1:123456789012:cluster:app-use1".into()
                ),
                to_cluster_arn: Some("arn:aws:rds:us-west-2:123456789012:cluster:app-usw2".into()),
                is_data_loss_allowed: false,
            })
        );
    }

    #[test]
    fn a_member_without_a_region_in_its_arn_is_an_error() {
        let bad = sdk::GlobalClusterMember::builder()
            .db_cluster_arn("app-use1")
            .build();
        let err = member(&bad, "global cluster app-global").expect_err("refused");
        assert_eq!(err.code(), Some("MalformedResponse"));
    }

    #[tokio::test]
    async fn an_unknown_region_is_an_error_naming_the_known_ones() {
        let db = AwsGlobalDatabase::new(HashMap::new());
        let err = db
            .describe_global_cluster("eu-west-1", "app-global")
            .await
            .expect_err("no client");
        assert!(matches!(err, CloudError::Config { .. }), "{err:?}");
        assert_eq!(err.code(), None);
        assert!(err.to_string().contains("eu-west-1"), "{err}");
    }
}
