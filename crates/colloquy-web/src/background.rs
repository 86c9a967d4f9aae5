//! Background work on every node: the job worker and the change watcher.

use crate::SharedState;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often a node checks the database's change counter (writes by other nodes or the CLI).
const CHANGE_POLL: Duration = Duration::from_millis(200);
/// How often an idle worker looks for due jobs.
const JOB_POLL: Duration = Duration::from_millis(250);

/// The job kinds this version runs; others (mail notices, until mail lands) stay queued.
const HANDLED_JOBS: &[&str] = &[
    "publish_due",
    colloquy_store::JOB_THOUGHT_PENDING,
    colloquy_store::JOB_THOUGHT_APPROVED,
    crate::routes::JOB_VERIFY_WEBMENTION,
    crate::routes::JOB_SEND_LINKBACKS,
];

/// Starts the workers; they stop after finishing what they hold when `stop` turns true.
pub fn spawn_workers(state: SharedState, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let watcher = {
        let state = state.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut last_upkeep = std::time::Instant::now();
            loop {
                if let Err(e) = state.check_for_changes().await {
                    tracing::warn!(error = %e, "could not read the change counter");
                }
                // Latency samples wait in memory until folded into their buckets: at 90,000
                // requests a second, 30 s of them were 20 MB.
                if last_upkeep.elapsed() >= Duration::from_secs(1) {
                    last_upkeep = std::time::Instant::now();
                    crate::metrics::upkeep();
                }
                tokio::select! {
                    _ = tokio::time::sleep(CHANGE_POLL) => {}
                    _ = stop.changed() => break,
                }
            }
        })
    };
    let stop_mail = stop.clone();
    let stop_rooms = stop.clone();
    let stop_listen = stop.clone();
    let worker = {
        let state = state.clone();
        let mut stop = stop;
        tokio::spawn(async move {
            let mut last_sweep = std::time::Instant::now();
            loop {
                if *stop.borrow() {
                    break;
                }
                let worked = match state.store.claim_job(HANDLED_JOBS).await {
                    Ok(Some(job)) => {
                        run_job(&state, job).await;
                        true
                    }
                    Ok(None) => false,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not claim a job");
                        false
                    }
                };
                // A safety net for scheduled posts whose job was lost (e.g. restored backup).
                if last_sweep.elapsed() > Duration::from_secs(30) {
                    last_sweep = std::time::Instant::now();
                    if let Ok(n) = state.store.publish_due().await {
                        if n > 0 {
                            state.content_changed().await;
                        }
                    }
                    match crate::mailing::queue_due_digests(&state).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(mails = n, "queued digests"),
                        Err(e) => tracing::warn!(error = %e, "could not queue digests"),
                    }
                    if let Err(e) = state.store.prune_changes().await {
                        tracing::warn!(error = %e, "could not prune old change records");
                    }
                }
                if !worked {
                    tokio::select! {
                        _ = tokio::time::sleep(JOB_POLL) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        })
    };
    let mail = {
        let state = state.clone();
        let mut stop = stop_mail;
        tokio::spawn(async move {
            loop {
                if *stop.borrow() {
                    break;
                }
                let busy = match crate::mailing::run_once(&state).await {
                    Ok(n) => n > 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "the mail worker could not work; it will try again");
                        false
                    }
                };
                if !busy {
                    tokio::select! {
                        _ = tokio::time::sleep(crate::mailing::IDLE) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        })
    };
    let rooms = {
        let state = state.clone();
        let mut stop = stop_rooms;
        tokio::spawn(async move {
            let mut round: u64 = 0;
            loop {
                // Every second: rooms against the store. Every fifth: readers reported, the
                // timers (open, close, summaries, reminders).
                let report = round.is_multiple_of(5);
                crate::live::check_rooms(&state, report).await;
                if report {
                    if let Err(e) = crate::live::tick(&state).await {
                        tracing::warn!(error = %e, "the debate timer could not run; it will try again");
                    }
                }
                round += 1;
                tokio::select! {
                    _ = tokio::time::sleep(crate::live::CHECK_EVERY) => {}
                    _ = stop.changed() => break,
                }
            }
        })
    };
    let listener = tokio::spawn(crate::live::listen(state.clone(), stop_listen));
    vec![watcher, worker, mail, rooms, listener]
}

#[tracing::instrument(skip(state, job), fields(job.id = job.id, job.kind = %job.kind, job.attempt = job.attempts))]
async fn run_job(state: &SharedState, job: colloquy_store::Job) {
    let result: anyhow::Result<()> = match job.kind.as_str() {
        "publish_due" => match state.store.publish_due().await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(published = n, "scheduled posts published");
                    state.content_changed().await;
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        },
        k @ (colloquy_store::JOB_THOUGHT_PENDING | colloquy_store::JOB_THOUGHT_APPROVED) => {
            crate::mailing::fan_out_thought_notice(state, k, &job.payload).await
        }
        crate::routes::JOB_VERIFY_WEBMENTION => {
            crate::routes::verify_webmention(state, &job.payload).await
        }
        crate::routes::JOB_SEND_LINKBACKS => {
            crate::routes::send_linkbacks(state, &job.payload).await
        }
        other => Err(anyhow::anyhow!("no handler for job kind {other:?}")),
    };
    let outcome = match result {
        Ok(()) => state.store.complete_job(job.id).await,
        Err(e) => {
            tracing::warn!(error = %e, "job failed");
            state.store.fail_job(&job, &e.to_string()).await
        }
    };
    if let Err(e) = outcome {
        tracing::error!(error = %e, "could not record the job's outcome; its lease will expire and it will run again");
    }
}
