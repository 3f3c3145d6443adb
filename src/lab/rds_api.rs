//! RDS's Query API over the lab's Aurora Global Database: DescribeGlobalClusters,
//! DescribeDBClusters, SwitchoverGlobalCluster, FailoverGlobalCluster (AllowDataLoss or
//! Switchover) and RemoveFromGlobalCluster. The region of a call is the SigV4 credential scope's;
//! DescribeDBClusters sees only that region's clusters and a bare cluster id resolves only there,
//! as on AWS. Responses are `<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata/>`.

use super::database::{Cluster, ENGINE, ENGINE_VERSION, Global, OpKind, RdsError, Role};
use super::endpoint::{AwsError, Params, RDS_NS};
use super::wire::timestamp;
use super::world::World;
use super::xml::XmlWriter;

pub fn execute(
    world: &mut World,
    params: &Params,
    region: &str,
    request_id: &str,
    resource: &mut String,
) -> Result<String, AwsError> {
    let action = params.get("Action").ok_or_else(|| {
        AwsError::new(
            "MissingAction",
            "The request must contain the parameter Action",
        )
    })?;
    let body = match action.as_str() {
        "DescribeGlobalClusters" => {
            *resource = params
                .get("GlobalClusterIdentifier")
                .cloned()
                .unwrap_or_default();
            describe_global_clusters(world, params)?
        }
        "DescribeDBClusters" => {
            *resource = params
                .get("DBClusterIdentifier")
                .cloned()
                .unwrap_or_default();
            describe_db_clusters(world, params, region)?
        }
        "SwitchoverGlobalCluster" => {
            let global = required(params, "GlobalClusterIdentifier")?;
            let target = required(params, "TargetDbClusterIdentifier")?;
            *resource = format!("{global} → {target}");
            world.promotion_requested();
            world
                .with_db(|db, ctx| db.start_switchover(ctx, global, target, region))
                .map_err(rds)?;
            global_cluster_result(world, global)
        }
        "FailoverGlobalCluster" => {
            let global = required(params, "GlobalClusterIdentifier")?;
            let target = required(params, "TargetDbClusterIdentifier")?;
            let allow_data_loss = flag(params, "AllowDataLoss")?;
            let switchover = flag(params, "Switchover")?;
            *resource = format!("{global} → {target}");
            if allow_data_loss && switchover {
                return Err(AwsError::new(
                    "InvalidParameterCombination",
                    "AllowDataLoss and Switchover can't be specified together.",
                ));
            }
            world.promotion_requested();
            // Without AllowDataLoss this is the managed (planned) failover: a switchover.
            world
                .with_db(|db, ctx| {
                    if allow_data_loss {
                        db.start_failover(ctx, global, target, region)
                    } else {
                        db.start_switchover(ctx, global, target, region)
                    }
                })
                .map_err(rds)?;
            global_cluster_result(world, global)
        }
        "RemoveFromGlobalCluster" => {
            let global = required(params, "GlobalClusterIdentifier")?;
            let cluster = required(params, "DbClusterIdentifier")?;
            *resource = format!("{global} - {cluster}");
            world
                .with_db(|db, ctx| db.remove_from_global(ctx, global, cluster, region))
                .map_err(rds)?;
            global_cluster_result(world, global)
        }
        other => {
            return Err(AwsError::new(
                "InvalidAction",
                format!("The action {other} is not valid for this web service."),
            ));
        }
    };
    Ok(wrap(action, &body, request_id))
}

fn rds(e: RdsError) -> AwsError {
    AwsError::new(e.code, e.message)
}

fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, AwsError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            AwsError::new(
                "MissingParameter",
                format!("The request must contain the parameter {name}"),
            )
        })
}

fn flag(params: &Params, name: &str) -> Result<bool, AwsError> {
    match params.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(AwsError::new(
            "InvalidParameterValue",
            format!("Invalid value '{other}' for {name}: expected true or false"),
        )),
    }
}

/// Wraps a result body in `<ActionResponse><ActionResult>…` with the request id.
fn wrap(action: &str, result: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<{action}Response xmlns=\"{RDS_NS}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    )
}

/// XML fragment (no document header) built with the writer.
fn fragment(build: impl FnOnce(&mut XmlWriter)) -> String {
    let mut w = XmlWriter::default();
    build(&mut w);
    w.finish()
}

fn global_cluster_result(world: &World, global: &str) -> String {
    match world.db.globals.get(global) {
        Some(g) => fragment(|w| global_xml(w, world, g, "GlobalCluster")),
        None => String::new(),
    }
}

fn describe_global_clusters(world: &World, params: &Params) -> Result<String, AwsError> {
    let wanted = params.get("GlobalClusterIdentifier");
    let globals: Vec<&Global> = world
        .db
        .globals
        .values()
        .filter(|g| wanted.is_none_or(|w| *w == g.id || *w == g.arn))
        .collect();
    if let Some(w) = wanted
        && globals.is_empty()
    {
        return Err(AwsError::new(
            "GlobalClusterNotFoundFault",
            format!("Global cluster {w} not found."),
        ));
    }
    Ok(fragment(|w| {
        w.open("GlobalClusters");
        for g in globals {
            global_xml(w, world, g, "GlobalClusterMember");
        }
        w.close();
    }))
}

fn global_xml(w: &mut XmlWriter, world: &World, g: &Global, element: &'static str) {
    w.open(element)
        .leaf("GlobalClusterIdentifier", &g.id)
        .leaf("GlobalClusterResourceId", &g.resource_id)
        .leaf("GlobalClusterArn", &g.arn)
        .leaf("Status", g.status())
        .leaf("Engine", ENGINE)
        .leaf("EngineVersion", ENGINE_VERSION)
        .leaf("StorageEncrypted", "false")
        .leaf("DeletionProtection", "false")
        .open("GlobalClusterMembers");
    let members: Vec<&Cluster> = g
        .members
        .iter()
        .filter_map(|arn| world.db.clusters.get(arn))
        .collect();
    for c in &members {
        w.open("GlobalClusterMember")
            .leaf("DBClusterArn", &c.arn)
            .open("Readers");
        if c.role == Role::Writer {
            for other in members.iter().filter(|o| o.arn != c.arn) {
                w.leaf("member", &other.arn);
            }
        }
        w.close()
            .leaf("IsWriter", (c.role == Role::Writer).to_string());
        if let Role::Secondary(sync) = c.role {
            w.leaf("GlobalWriteForwardingStatus", "disabled")
                .leaf("SynchronizationStatus", sync.as_str());
        }
        w.close();
    }
    w.close();
    if let Some(op) = &g.op {
        w.open("FailoverState")
            .leaf("Status", op.phase.as_str())
            .leaf("FromDbClusterArn", &op.from)
            .leaf("ToDbClusterArn", &op.to)
            .leaf(
                "IsDataLossAllowed",
                (op.kind == OpKind::Failover).to_string(),
            )
            .close();
    }
    w.close();
}

fn describe_db_clusters(world: &World, params: &Params, region: &str) -> Result<String, AwsError> {
    let mut wanted: Vec<String> = params
        .get("DBClusterIdentifier")
        .cloned()
        .into_iter()
        .collect();
    // Filters.Filter.N.Name=db-cluster-id with Filters.Filter.N.Values.Value.M
    for n in 1.. {
        let Some(name) = params.get(&format!("Filters.Filter.{n}.Name")) else {
            break;
        };
        if name == "db-cluster-id" {
            for m in 1.. {
                match params.get(&format!("Filters.Filter.{n}.Values.Value.{m}")) {
                    Some(v) => wanted.push(v.clone()),
                    None => break,
                }
            }
        }
    }
    let clusters: Vec<&Cluster> = world
        .db
        .clusters
        .values()
        .filter(|c| c.region == region)
        .filter(|c| wanted.is_empty() || wanted.iter().any(|w| *w == c.id || *w == c.arn))
        .collect();
    if let Some(id) = params.get("DBClusterIdentifier")
        && clusters.is_empty()
    {
        return Err(AwsError::new(
            "DBClusterNotFoundFault",
            format!("DBCluster {id} not found."),
        ));
    }
    let created = timestamp(world.truth.at(std::time::Duration::ZERO));
    Ok(fragment(|w| {
        w.open("DBClusters");
        for c in clusters {
            let status = if world.down.contains(&c.region) {
                "inaccessible"
            } else {
                "available"
            };
            let writer_arn = c
                .global
                .as_deref()
                .and_then(|g| world.db.writer_of(g))
                .map(|w| w.arn.clone());
            w.open("DBCluster")
                .leaf("AllocatedStorage", "1")
                .open("AvailabilityZones");
            for az in ["a", "b", "c"] {
                w.leaf("AvailabilityZone", format!("{}{az}", c.region));
            }
            w.close()
                .leaf("BackupRetentionPeriod", "1")
                .leaf("DBClusterIdentifier", &c.id)
                .leaf("DBClusterParameterGroup", "default.aurora-postgresql15")
                .leaf("DBSubnetGroup", "default")
                .leaf("Status", status)
                .leaf("Endpoint", format!("{}.cluster.{}.rds.lab", c.id, c.region))
                .leaf(
                    "ReaderEndpoint",
                    format!("{}.cluster-ro.{}.rds.lab", c.id, c.region),
                )
                .leaf("MultiAZ", "false")
                .leaf("Engine", ENGINE)
                .leaf("EngineVersion", ENGINE_VERSION)
                .leaf("Port", "5432")
                .leaf("MasterUsername", "postgres");
            if let (Role::Secondary(_), Some(source)) = (c.role, &writer_arn) {
                w.leaf("ReplicationSourceIdentifier", source);
            }
            w.open("DBClusterMembers")
                .open("DBClusterMember")
                .leaf("DBInstanceIdentifier", format!("{}-instance-1", c.id))
                .leaf("IsClusterWriter", c.role.is_writer().to_string())
                .leaf("DBClusterParameterGroupStatus", "in-sync")
                .leaf("PromotionTier", "1")
                .close()
                .close()
                .leaf("StorageEncrypted", "false")
                .leaf("DbClusterResourceId", &c.resource_id)
                .leaf("DBClusterArn", &c.arn)
                .leaf("IAMDatabaseAuthenticationEnabled", "false")
                .leaf("ClusterCreateTime", &created)
                .leaf("EngineMode", "provisioned")
                .leaf("DeletionProtection", "false")
                .leaf("HttpEndpointEnabled", "false")
                .leaf("CopyTagsToSnapshot", "false")
                .leaf("CrossAccountClone", "false")
                .leaf_opt("GlobalClusterIdentifier", c.global.as_deref());
            if matches!(c.role, Role::Secondary(_)) {
                w.leaf("GlobalWriteForwardingStatus", "disabled");
            }
            w.close();
        }
        w.close();
    }))
}
