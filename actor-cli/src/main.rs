//! `actors`: look into an actor-core store file, verify it, back it up and restore it, from
//! the shell, also while a system runs on the file.
//!
//! ```text
//! actors ls data.redb                      # actor types and their counts
//! actors ls data.redb --type Counter       # keys of one type, paged (--prefix, --after, --limit)
//! actors show data.redb Counter room-42    # one actor: id, state version, size, state as JSON
//! actors kv ls data.redb                   # key-value stores and their counts
//! actors kv ls data.redb STATE             # keys of one store
//! actors kv get data.redb STATE theme      # one value
//! actors verify data.redb                  # read every row; exit 1 if any does not decode
//! actors backup data.redb copy.redb        # one snapshot, written atomically
//! actors restore copy.redb data.redb       # refuses an existing file unless --force
//! actors pitr ls data.redb                 # the restore points the file keeps
//! actors restore data.redb --at 2026-12-02T12:00:00Z then.redb  # as it was then
//! ```
//!
//! Exit status: 0 when done, 1 when the command failed or `verify` found a bad row (the
//! reason on stderr, naming the file), 2 for a usage error. `--json` output has the shapes
//! documented in `docs/operating.md`.
//!
//! # Layout
//!
//! - `main.rs`: the command line (clap), one function per command, and the exit status.
//! - `output.rs`: what each command prints, as text and as JSON.
//!
//! Everything it reads goes through [`actor_core::inspect`].

mod output;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use actor_core::inspect::{self, Inspector};
use actor_core::{BackupError, InspectError, RestoreError, RestorePointError};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Look into, verify, back up and restore actor-core store files.
#[derive(Debug, Parser)]
#[command(name = "actors", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the actor types with their counts, or (with --type) the keys of one type.
    Ls {
        /// The store file.
        file: PathBuf,
        /// List the keys of this actor type.
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// Only keys that start with this (with --type).
        #[arg(long, default_value = "", requires = "kind")]
        prefix: String,
        /// Start after this key (the `next` of the previous page).
        #[arg(long, value_name = "KEY", requires = "kind")]
        after: Option<String>,
        /// At most this many keys.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one actor: its id, state version, size, and state as JSON.
    Show {
        /// The store file.
        file: PathBuf,
        /// The actor type.
        #[arg(value_name = "TYPE")]
        kind: String,
        /// The actor's encoded key, as `ls --type` lists it.
        key: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The key-value stores.
    #[command(subcommand)]
    Kv(KvCommand),
    /// Read every row; list those that do not decode and exit 1 if there are any.
    Verify {
        /// The store file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy the store, as one snapshot, into a new file (also while a system runs on it).
    Backup {
        /// The store file.
        file: PathBuf,
        /// The new backup file (must not exist).
        out: PathBuf,
    },
    /// Put a backup in place as a store file (never over a file a running system holds);
    /// with --at, write a new file holding FILE as it was at its latest restore point at or
    /// before TIME.
    Restore {
        /// The backup file (with --at: the store file, which is only read).
        #[arg(value_name = "BACKUP|FILE")]
        source: PathBuf,
        /// The store file to write (with --at: the new file, which must not exist).
        #[arg(value_name = "FILE|OUT")]
        target: PathBuf,
        /// Replace the file if it exists (not with --at: a restore point is never written
        /// over a file).
        #[arg(long, conflicts_with = "at")]
        force: bool,
        /// Restore to the latest restore point at or before this time: RFC 3339
        /// (`2026-12-02T12:00:00Z`, `2026-12-02 12:00:00` is UTC too), or `now`.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        at: Option<SystemTime>,
    },
    /// Restore points (point-in-time restore).
    #[command(subcommand)]
    Pitr(PitrCommand),
}

#[derive(Debug, Subcommand)]
enum PitrCommand {
    /// List the restore points a store file keeps, oldest first.
    Ls {
        /// The store file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `now`, or an RFC 3339 time (UTC when it has no offset).
fn parse_time(text: &str) -> Result<SystemTime, String> {
    if text == "now" {
        return Ok(SystemTime::now());
    }
    humantime::parse_rfc3339_weak(text).map_err(|error| {
        format!("{error}: give an RFC 3339 time such as 2026-12-02T12:00:00Z, or `now`")
    })
}

#[derive(Debug, Subcommand)]
enum KvCommand {
    /// List the stores with their counts, or the keys of STORE.
    Ls {
        /// The store file.
        file: PathBuf,
        /// List the keys of this key-value store.
        store: Option<String>,
        /// Only keys that start with this (with STORE).
        #[arg(long, default_value = "", requires = "store")]
        prefix: String,
        /// Start after this key (the `next` of the previous page).
        #[arg(long, value_name = "KEY", requires = "store")]
        after: Option<String>,
        /// At most this many keys.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print one value.
    Get {
        /// The store file.
        file: PathBuf,
        /// The key-value store.
        store: String,
        /// The key.
        key: String,
    },
}

/// Why a command failed. Every message names the file.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// Opening or reading the file failed (the error names the file).
    #[error(transparent)]
    Inspect(#[from] InspectError),
    #[error("{file}: no actor {kind} {key:?}")]
    NoActor {
        file: PathBuf,
        kind: String,
        key: String,
    },
    #[error("{file}: no key {key:?} in the key-value store {store:?}")]
    NoKey {
        file: PathBuf,
        store: String,
        key: String,
    },
    #[error("{file}: actor {kind} {key:?}")]
    BadRecord {
        file: PathBuf,
        kind: String,
        key: String,
        #[source]
        source: actor_core::DecodeError,
    },
    #[error("{file}: {count} bad rows")]
    BadRows { file: PathBuf, count: usize },
    #[error("backup of {file} failed")]
    Backup {
        file: PathBuf,
        #[source]
        source: BackupError,
    },
    #[error("restore of {backup} failed")]
    Restore {
        backup: PathBuf,
        #[source]
        source: RestoreError,
    },
    #[error("restore points of {file}")]
    RestorePoint {
        file: PathBuf,
        #[source]
        source: RestorePointError,
    },
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

fn main() -> ExitCode {
    // A damaged file can make redb panic; that panic is caught and reported as an error, so
    // its default message would only repeat it.
    actor_core::quiet_caught_panics();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        // `actors ls FILE | head`: the reader left, which is not a failure.
        Err(Failure::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("actors: {}", output::chain(&failure));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Ls {
            file,
            kind: None,
            json,
            ..
        } => {
            let types = Inspector::open(&file)?.types()?;
            output::types(&mut out, &types, json)?;
        }
        Command::Ls {
            file,
            kind: Some(kind),
            prefix,
            after,
            limit,
            json,
        } => {
            let page =
                Inspector::open(&file)?.keys(&kind, &prefix, after.as_deref(), limit as usize)?;
            output::keys(&mut out, "type", &kind, &page, json)?;
        }
        Command::Show {
            file,
            kind,
            key,
            json,
        } => {
            let Some(record) = Inspector::open(&file)?.actor(&kind, &key)? else {
                return Err(Failure::NoActor { file, kind, key });
            };
            let shown = output::actor(&mut out, &record, json)?;
            if let Err(source) = shown {
                return Err(Failure::BadRecord {
                    file,
                    kind,
                    key,
                    source,
                });
            }
        }
        Command::Kv(command) => kv(command, &mut out)?,
        Command::Verify { file, json } => verify(&file, json, &mut out)?,
        Command::Backup { file, out: target } => {
            let bar = progress(None, "backing up");
            let report = inspect::backup(&file, &target);
            bar.finish_and_clear();
            let report = report.map_err(|source| Failure::Backup { file, source })?;
            output::backup(&mut out, &report)?;
        }
        Command::Restore {
            source: backup,
            target: file,
            force,
            at: None,
        } => {
            let bytes = inspect::restore(&backup, &file, force)
                .map_err(|source| Failure::Restore { backup, source })?;
            writeln!(out, "restored {} ({bytes} bytes)", file.display())?;
        }
        Command::Restore {
            source: file,
            target,
            at: Some(at),
            ..
        } => {
            let bar = progress(None, "restoring");
            let point = actor_core::restore_point(&file, at, &target);
            bar.finish_and_clear();
            let point = point.map_err(|source| Failure::RestorePoint { file, source })?;
            writeln!(
                out,
                "restored {} as it was at {} (restore point {})",
                target.display(),
                humantime::format_rfc3339_millis(point.at),
                point.id
            )?;
        }
        Command::Pitr(PitrCommand::Ls { file, json }) => {
            let points = actor_core::restore_points(&file)
                .map_err(|source| Failure::RestorePoint { file, source })?;
            output::restore_points(&mut out, &points, json)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `kv ls` and `kv get`.
fn kv(command: KvCommand, out: &mut impl Write) -> Result<(), Failure> {
    match command {
        KvCommand::Ls {
            file,
            store: None,
            json,
            ..
        } => {
            let stores = Inspector::open(&file)?.stores()?;
            output::stores(out, &stores, json)?;
        }
        KvCommand::Ls {
            file,
            store: Some(store),
            prefix,
            after,
            limit,
            json,
        } => {
            let page = Inspector::open(&file)?.kv_keys(
                &store,
                &prefix,
                after.as_deref(),
                limit as usize,
            )?;
            output::keys(out, "store", &store, &page, json)?;
        }
        KvCommand::Get { file, store, key } => {
            let Some(value) = Inspector::open(&file)?.kv_get(&store, &key)? else {
                return Err(Failure::NoKey { file, store, key });
            };
            writeln!(out, "{value}")?;
        }
    }
    Ok(())
}

/// `verify`: every row read; the bad ones printed, and a failure if there are any.
fn verify(file: &Path, json: bool, out: &mut impl Write) -> Result<(), Failure> {
    let inspector = Inspector::open(file)?;
    let bar = progress(Some(inspector.counts()?.total()), "verifying");
    let report = inspector.verify(|done| bar.set_position(done))?;
    bar.finish_and_clear();
    output::verify(out, &report, json)?;
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::BadRows {
            file: file.to_path_buf(),
            count: report.problems.len(),
        })
    }
}

/// A progress bar on stderr (a spinner without a `total`), hidden unless stderr is a
/// terminal, so pipes and logs get only the result.
fn progress(total: Option<u64>, message: &'static str) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(total, target);
    if total.is_some() {
        if let Ok(style) = ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} rows") {
            bar.set_style(style);
        }
    } else {
        bar.enable_steady_tick(Duration::from_millis(100));
    }
    bar.set_message(message);
    bar
}
