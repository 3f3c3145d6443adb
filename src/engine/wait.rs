//! Bounded waits on the cloud: polls on the injected clock until a condition holds or a modelled
//! timeout runs out. Transient errors while polling are retried until the deadline.

use std::time::Duration;

use crate::clock::Clock;
use crate::cloud::{ChangeStatus, Cloud, CloudError, GlobalCluster};

#[derive(Debug, Clone, thiserror::Error)]
pub enum WaitError {
    #[error("timed out after {} waiting for {what}{}", humantime::format_duration(*after), last.as_ref().map(|l| format!(" (last seen: {l})")).unwrap_or_default())]
    Timeout {
        what: String,
        after: Duration,
        last: Option<String>,
    },
    #[error("{what}")]
    Ended { what: String },
    #[error(transparent)]
    Cloud(#[from] CloudError),
}

/// Polls `probe` until it returns Some, on the clock, for at most `timeout`. A cloud error ends the
/// wait only if it is not found, could not be sent at all, or the deadline passes; other errors
/// are retried.
async fn until<T, F, Fut>(
    clock: &Clock,
    what: &str,
    poll: Duration,
    timeout: Duration,
    mut probe: F,
) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Result<T, String>, CloudError>>,
{
    let started = clock.elapsed();
    // Polls keep a fixed rate from the start: the time a call takes is not added to the period,
    // so a wait ends at most one poll after the thing it waits for (plus one call).
    let mut next = started;
    let mut polls = 0u64;
    loop {
        next += poll;
        polls += 1;
        let answer = probe().await;
        tracing::debug!(
            poll = polls,
            seen = %match &answer {
                Ok(Ok(_)) => "done".to_string(),
                Ok(Err(seen)) => crate::escape::terminal(seen).into_owned(),
                Err(e) => crate::escape::terminal(&e.to_string()).into_owned(),
            },
            "waiting for {}",
            crate::escape::terminal(what)
        );
        let last = match answer {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(seen)) => Some(seen),
            // Asking again cannot help: the thing is gone, or the request cannot even be made.
            Err(e @ (CloudError::NotFound { .. } | CloudError::Config { .. })) => {
                return Err(e.into());
            }
            Err(e) => Some(e.to_string()),
        };
        let now = clock.elapsed();
        // A call slower than the period: the next poll goes now, never in a burst to catch up.
        next = next.max(now);
        if next.saturating_sub(started) > timeout {
            return Err(WaitError::Timeout {
                what: what.to_string(),
                after: timeout,
                last,
            });
        }
        clock.sleep(next - now).await;
    }
}

/// Waits until every change is INSYNC.
pub async fn insync(
    cloud: &Cloud,
    clock: &Clock,
    change_ids: &[String],
    poll: Duration,
    timeout: Duration,
) -> Result<(), WaitError> {
    for id in change_ids {
        until(
            clock,
            &format!("Route 53 change {id} to be INSYNC"),
            poll,
            timeout,
            || async {
                let info = cloud.route53.get_change(id).await?;
                Ok(match info.status {
                    ChangeStatus::Insync => Ok(()),
                    ChangeStatus::Pending => Err("PENDING".to_string()),
                })
            },
        )
        .await?;
    }
    Ok(())
}

/// Waits until no switchover or failover is running on the global cluster.
pub async fn no_failover_state(
    cloud: &Cloud,
    clock: &Clock,
    region: &str,
    global_cluster: &str,
    poll: Duration,
    timeout: Duration,
) -> Result<GlobalCluster, WaitError> {
    let what = format!("global cluster {global_cluster} to finish its switchover or failover");
    until(clock, &what, poll, timeout, || async {
        let g = cloud
            .rds
            .describe_global_cluster(region, global_cluster)
            .await?;
        Ok(match &g.failover_state {
            None => Ok(g),
            Some(fs) => Err(format!("FailoverState {}", fs.status)),
        })
    })
    .await
}

/// A promotion being waited for: the global cluster (asked in `region`) and the cluster that is to
/// become its writer.
pub struct Promotion<'a> {
    pub region: &'a str,
    pub global_cluster: &'a str,
    pub target: &'a str,
}

/// Waits until `target` is the writer and no FailoverState remains: the promotion is complete.
/// A promotion that was seen running and then ended with the writer elsewhere was cancelled or
/// failed: that ends the wait at once instead of running out the timeout. Each FailoverState seen
/// on the way is handed to `seen` (the live view shows it).
pub async fn promoted(
    cloud: &Cloud,
    clock: &Clock,
    promotion: &Promotion<'_>,
    poll: Duration,
    timeout: Duration,
    seen: &(dyn Fn(&str) + Sync),
) -> Result<GlobalCluster, WaitError> {
    let Promotion {
        region,
        global_cluster,
        target,
    } = *promotion;
    let what = format!("{target} to become the writer of {global_cluster}");
    let seen_running = std::sync::atomic::AtomicBool::new(false);
    let ended = until(clock, &what, poll, timeout, || async {
        let g = cloud
            .rds
            .describe_global_cluster(region, global_cluster)
            .await?;
        let writer = g.writer().map(|m| m.cluster_arn.clone());
        Ok(
            match (&g.failover_state, writer.as_deref() == Some(target)) {
                (None, true) => Ok(Ok(g)),
                (Some(fs), _) => {
                    seen_running.store(true, std::sync::atomic::Ordering::Relaxed);
                    seen(&fs.status);
                    Err(format!("FailoverState {}", fs.status))
                }
                (None, false) if seen_running.load(std::sync::atomic::Ordering::Relaxed) => {
                    Ok(Err(writer.unwrap_or_default()))
                }
                (None, false) => Err(format!("writer {}", writer.unwrap_or_default())),
            },
        )
    })
    .await?;
    ended.map_err(|writer| WaitError::Ended {
        what: format!(
            "the switchover or failover of {global_cluster} ended without making {target} the writer (the writer is {writer}): it was cancelled or failed"
        ),
    })
}

/// Waits until `member` is a `connected` secondary (a writer counts as ready too).
pub async fn member_connected(
    cloud: &Cloud,
    clock: &Clock,
    region: &str,
    global_cluster: &str,
    member: &str,
    poll: Duration,
    timeout: Duration,
) -> Result<(), WaitError> {
    let what = format!("{member} to be a connected member of {global_cluster}");
    until(clock, &what, poll, timeout, || async {
        let g = cloud
            .rds
            .describe_global_cluster(region, global_cluster)
            .await?;
        Ok(match g.member(member) {
            None => Err("not a member".to_string()),
            Some(m) if m.is_writer => Ok(()),
            Some(m) if m.synchronization_status.as_deref() == Some("connected") => Ok(()),
            Some(m) => Err(m
                .synchronization_status
                .clone()
                .unwrap_or_else(|| "unknown".to_string())),
        })
    })
    .await
}

/// Sleeps on the clock, logging a countdown every so often for long waits. The end is fixed when
/// the wait starts, so the pieces it sleeps in do not add up their timer rounding (a millisecond
/// each, which a fast lab clock turns into a modelled second).
pub async fn sleep_with_countdown(clock: &Clock, what: &str, total: Duration) {
    let tick = Duration::from_secs(30);
    let end = clock.elapsed() + total;
    loop {
        let left = end.saturating_sub(clock.elapsed());
        if left.is_zero() {
            break;
        }
        tracing::info!(
            "{what}: {} left",
            humantime::format_duration(Duration::from_secs(left.as_millis().div_ceil(1000) as u64))
        );
        clock.sleep(left.min(tick)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str) -> CloudError {
        CloudError::Api {
            operation: "DescribeGlobalClusters".to_string(),
            resource: "global cluster g".to_string(),
            code: code.to_string(),
            message: "m".to_string(),
        }
    }

    /// Each wait is polled at most `polls` times: how many calls it took to end, and how.
    async fn ends_after(error: CloudError) -> (u32, Result<(), WaitError>) {
        let clock = Clock::scaled(1000.0);
        let mut calls = 0;
        let result = until(
            &clock,
            "the writer",
            Duration::from_secs(5),
            Duration::from_secs(60),
            || {
                calls += 1;
                let error = error.clone();
                async move { Err::<Result<(), String>, _>(error) }
            },
        )
        .await;
        (calls, result)
    }

    #[tokio::test(start_paused = true)]
    async fn polls_keep_their_rate_however_long_a_call_takes() {
        let clock = Clock::real();
        let started = tokio::time::Instant::now();
        let mut at = Vec::new();
        let result = until(
            &clock,
            "the writer",
            Duration::from_secs(1),
            Duration::from_secs(60),
            || {
                at.push(started.elapsed());
                let n = at.len();
                async move {
                    // Each call takes 300 ms; the fourth sees the thing done.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok::<_, CloudError>(if n == 4 {
                        Ok(())
                    } else {
                        Err("not yet".to_string())
                    })
                }
            },
        )
        .await;
        assert!(result.is_ok());
        let secs: Vec<u64> = at.iter().map(|d| d.as_millis() as u64).collect();
        assert_eq!(secs, [0, 1000, 2000, 3000]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_countdown_ends_when_it_was_due_whatever_its_pieces() {
        // 30 s pieces at 7× are 4.2857… s of tokio time, each rounded up to the millisecond.
        let clock = Clock::scaled(7.0);
        let start = tokio::time::Instant::now();
        sleep_with_countdown(&clock, "soak", Duration::from_secs(300)).await;
        let due = Duration::from_secs(300).div_f64(7.0);
        assert!(start.elapsed() >= due, "{:?}", start.elapsed());
        assert!(
            start.elapsed() <= due + Duration::from_millis(1),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn only_errors_that_asking_again_could_fix_are_retried() {
        let (calls, result) = ends_after(api("Throttling")).await;
        assert!(calls > 1, "{calls}");
        assert!(
            matches!(result, Err(WaitError::Timeout { last: Some(l), .. }) if l.contains("Throttling"))
        );

        let gone = CloudError::NotFound {
            resource: "global cluster g".to_string(),
            code: "GlobalClusterNotFoundFault".to_string(),
        };
        let unsendable = CloudError::Config {
            operation: "DescribeGlobalClusters".to_string(),
            resource: "global cluster g".to_string(),
            message: "no RDS client for region \"eu-west-1\"".to_string(),
        };
        for error in [gone, unsendable] {
            let (calls, result) = ends_after(error.clone()).await;
            assert_eq!(calls, 1, "{error}");
            assert!(
                matches!(result, Err(WaitError::Cloud(e)) if e.to_string() == error.to_string())
            );
        }
    }
}
