//! `POST /admin/backup`: an online backup of the running system, into a directory the
//! program chose ([`ServerBuilder::backups`](crate::http::ServerBuilder::backups)); the client
//! names no path. The newest backups are kept, the oldest beyond the count deleted, so a
//! client cannot fill the disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::Failure;
use crate::error::BackupError;
use crate::error::ErrorKind;
use crate::inspect::CommitLatency;
use crate::system::System;

/// The route's path.
pub(crate) const BACKUP_PATH: &str = "/admin/backup";

/// Where backups go and how many are kept.
#[derive(Debug, Clone)]
pub(crate) struct Backups {
    pub(crate) system: System,
    pub(crate) dir: PathBuf,
    pub(crate) keep: usize,
}

/// The prefix of the files this route writes (and the only ones it deletes).
const PREFIX: &str = "backup-";

/// `POST /admin/backup`: writes `backup-{unix ms}.redb` in the directory, answers what
/// [`System::backup`] reported, then drops the oldest backups beyond the count.
pub(crate) async fn backup(backups: Arc<Backups>) -> Response {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let path = backups.dir.join(format!("{PREFIX}{millis:013}.redb"));
    match backups.system.backup(&path).await {
        Ok(report) => {
            prune(&backups.dir, backups.keep);
            let latency = |l: Option<CommitLatency>| {
                l.map(|l| {
                    json!({
                        "commits": l.commits,
                        "mean_us": l.mean.as_micros(),
                        "longest_us": l.longest.as_micros(),
                    })
                })
            };
            Json(json!({
                "file": report.path.file_name().map(|n| n.to_string_lossy()),
                "bytes": report.bytes,
                "took_ms": report.took.as_millis(),
                "before": latency(report.before),
                "during": latency(report.during),
            }))
            .into_response()
        }
        Err(BackupError::Shutdown) => {
            Failure::new(ErrorKind::ShuttingDown, "the system is shutting down").into_response()
        }
        Err(error) => {
            tracing::error!(%error, dir = %backups.dir.display(), "backup failed");
            Failure::new(
                ErrorKind::Storage,
                "the backup failed; the cause is in the server's log",
            )
            .into_response()
        }
    }
}

/// Deletes this route's oldest backups in `dir` beyond `keep` (by name: the time they were
/// started). Other files are never touched.
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut ours: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            // Exactly the names `backup` writes: the prefix, digits, `.redb`.
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(PREFIX))
                .and_then(|n| n.strip_suffix(".redb"))
                .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    ours.sort();
    let excess = ours.len().saturating_sub(keep);
    for old in &ours[..excess] {
        if let Err(error) = std::fs::remove_file(old) {
            tracing::warn!(%error, file = %old.display(), "cannot delete an old backup");
        }
    }
}
