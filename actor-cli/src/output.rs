//! What each command prints on stdout: lines for people and pipes, or (with `--json`) one
//! JSON document whose shape `docs/operating.md` documents and tests parse back.

use std::io::{self, Write};

use actor_core::DecodeError;
use actor_core::inspect::{ActorRecord, BackupReport, Page, StoreCount, TypeCount, VerifyReport};
use serde_json::json;

/// `Counter\t3` per type, or `{"types": [{"type": "Counter", "count": 3}]}`.
pub(crate) fn types(out: &mut impl Write, types: &[TypeCount], as_json: bool) -> io::Result<()> {
    if as_json {
        let types: Vec<_> = types
            .iter()
            .map(|t| json!({"type": t.name, "count": t.count}))
            .collect();
        return print_json(out, &json!({ "types": types }));
    }
    for t in types {
        writeln!(out, "{}\t{}", t.name, t.count)?;
    }
    Ok(())
}

/// `ID\tTIME` per restore point (RFC 3339, UTC), or
/// `{"restore_points": [{"id": 1, "at": "2026-12-02T12:00:00.000Z", "at_ms": 1796212800000}]}`.
pub(crate) fn restore_points(
    out: &mut impl Write,
    points: &[actor_core::RestorePoint],
    as_json: bool,
) -> io::Result<()> {
    let time =
        |point: &actor_core::RestorePoint| humantime::format_rfc3339_millis(point.at).to_string();
    if as_json {
        let points: Vec<_> = points
            .iter()
            .map(|p| {
                let ms =
                    p.at.duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis());
                json!({"id": p.id, "at": time(p), "at_ms": ms})
            })
            .collect();
        return print_json(out, &json!({ "restore_points": points }));
    }
    for p in points {
        writeln!(out, "{}\t{}", p.id, time(p))?;
    }
    Ok(())
}

/// `Counter\t3` per store, or `{"stores": [{"store": "STATE", "count": 3}]}`.
pub(crate) fn stores(out: &mut impl Write, stores: &[StoreCount], as_json: bool) -> io::Result<()> {
    if as_json {
        let stores: Vec<_> = stores
            .iter()
            .map(|s| json!({"store": s.name, "count": s.count}))
            .collect();
        return print_json(out, &json!({ "stores": stores }));
    }
    for s in stores {
        writeln!(out, "{}\t{}", s.name, s.count)?;
    }
    Ok(())
}

/// One key per line (and, when the page is full, where the next starts, on stderr), or
/// `{"<group>": "...", "keys": [...], "next": "..." | null}`.
pub(crate) fn keys(
    out: &mut impl Write,
    group: &str,
    name: &str,
    page: &Page,
    as_json: bool,
) -> io::Result<()> {
    if as_json {
        return print_json(
            out,
            &json!({ group: name, "keys": page.keys, "next": page.next }),
        );
    }
    for key in &page.keys {
        writeln!(out, "{key}")?;
    }
    if let Some(next) = &page.next {
        eprintln!("(more keys: continue with --after {next:?})");
    }
    Ok(())
}

/// The record's fields and its state, or `{"type", "key", "id", "state_version", "size",
/// "state"}`. The outer result is the output; the inner one says whether the record decoded
/// (what of it could be read is printed either way).
pub(crate) fn actor(
    out: &mut impl Write,
    record: &ActorRecord,
    as_json: bool,
) -> io::Result<Result<(), DecodeError>> {
    let header = match record.record() {
        Ok(header) => header,
        Err(error) => return Ok(Err(error)),
    };
    let state = match record.state() {
        Ok(state) => state,
        Err(error) => {
            if !as_json {
                writeln!(out, "type: {}\nkey: {}", record.kind, record.key)?;
                writeln!(out, "id: {}", header.id())?;
                writeln!(out, "state version: {}", header.state_version())?;
                writeln!(out, "size: {} bytes", record.bytes.len())?;
            }
            return Ok(Err(error));
        }
    };
    if as_json {
        print_json(
            out,
            &json!({
                "type": record.kind,
                "key": record.key,
                "id": header.id().to_string(),
                "state_version": header.state_version(),
                "size": record.bytes.len(),
                "state": state,
            }),
        )?;
        return Ok(Ok(()));
    }
    writeln!(out, "type: {}\nkey: {}", record.kind, record.key)?;
    writeln!(out, "id: {}", header.id())?;
    writeln!(out, "state version: {}", header.state_version())?;
    writeln!(out, "size: {} bytes", record.bytes.len())?;
    let pretty = serde_json::to_string_pretty(&state).map_err(io::Error::other)?;
    writeln!(out, "state: {pretty}")?;
    Ok(Ok(()))
}

/// One line per bad row (`actors Counter "x": why: cause`) and a summary, or
/// `{"checked": {...}, "problems": [{"table", "key", "error"}]}`.
pub(crate) fn verify(out: &mut impl Write, report: &VerifyReport, as_json: bool) -> io::Result<()> {
    let checked = &report.checked;
    if as_json {
        let problems: Vec<_> = report
            .problems
            .iter()
            .map(|p| json!({"table": p.table, "key": p.key, "error": chain(&p.defect)}))
            .collect();
        return print_json(
            out,
            &json!({
                "checked": {
                    "actors": checked.actors,
                    "kv": checked.kv,
                    "schedules": checked.schedules,
                    "messages": checked.messages,
                },
                "problems": problems,
            }),
        );
    }
    for p in &report.problems {
        writeln!(out, "{} {}: {}", p.table, p.key, chain(&p.defect))?;
    }
    writeln!(
        out,
        "checked {} actors, {} key-value entries, {} schedules, {} messages: {} bad",
        checked.actors,
        checked.kv,
        checked.schedules,
        checked.messages,
        report.problems.len()
    )
}

/// What a backup wrote.
pub(crate) fn backup(out: &mut impl Write, report: &BackupReport) -> io::Result<()> {
    let copied = &report.copied;
    writeln!(
        out,
        "backed up {} actors, {} key-value entries, {} schedules, {} messages to {} ({} bytes) in {} ms",
        copied.actors,
        copied.kv,
        copied.schedules,
        copied.messages,
        report.path.display(),
        report.bytes,
        report.took.as_millis()
    )
}

/// An error and its causes, on one line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

fn print_json(out: &mut impl Write, value: &serde_json::Value) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
    writeln!(out)
}
