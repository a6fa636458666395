//! The web inspector ([`ServerBuilder::inspector`](crate::http::ServerBuilder::inspector)):
//! one page at `GET /admin/` and the JSON API under `/admin/api/` it reads, all in the
//! [`RouteGroup::Admin`](crate::http::RouteGroup::Admin) group.
//!
//! The page is one HTML file with its CSS and script inline, compiled into the binary: it
//! loads nothing from elsewhere. It holds no data, so it is served without a token; its
//! script takes the token from the URL fragment (`/admin/#token=...`, which browsers never
//! send to the server) or from its form, and sends it as `Authorization: Bearer` on every
//! API call.
//!
//! Every answer reads the running system's own file through
//! [`System::inspect`](crate::System::inspect), on a blocking thread: one read transaction
//! per request, beside the writer. The live feed (`/admin/api/live`) is server-sent events
//! read with `fetch` (so that it can carry the token, which an `EventSource` cannot): once a
//! second, the commits of the last second and the system's actor counts, from one sampling
//! task that keeps the last minute for a page that opens now. The events feed
//! (`/admin/api/events`) is server-sent events too: every event an actor's durable turn
//! emits, as JSON, from the system's tap ([`System::events_tap`](crate::System::events_tap)).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use super::error::Failure;
use super::routes::Shared;
use crate::error::{ErrorKind, InspectError};
use crate::inspect::{Inspector, Page};
use crate::limits::{MAX_ACTOR_KEY_BYTES, MAX_KEY_BYTES, MAX_STORE_NAME_BYTES, quote};
use crate::system::System;
use crate::tap::{EventsTap, TappedEvent};

/// The page: HTML with its style and script inline.
const PAGE: &str = include_str!("inspector.html");

/// The path of the page, which is served without a token (see the module doc), as is the
/// redirect to it from `/admin`.
pub(crate) const PAGE_PATH: &str = "/admin/";

/// The most keys one page of keys may ask for.
pub(crate) const MAX_PAGE_KEYS: usize = 1000;

/// The keys a page of keys holds when the request does not say.
const DEFAULT_PAGE_KEYS: usize = 100;

/// The longest query string the API reads, in bytes: two keys and a number fit with room.
const MAX_QUERY_BYTES: usize = 8 * 1024;

/// How often the commit rate is sampled (and the live feed reports).
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The longest actor type name the events feed's `type` filter takes, in bytes.
const MAX_TYPE_FILTER_BYTES: usize = 256;

/// The largest event the events feed sends whole, in bytes of JSON: a bigger one is sent as
/// its actor and its size (`"truncated"`), so that one huge event does not swamp a viewer.
pub(crate) const MAX_FEED_EVENT_BYTES: usize = 64 * 1024;

/// Where the page's script may connect and what it may load: only this server, nothing
/// inline but the page's own style and script.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// `GET /admin/`: the page.
pub(crate) async fn page() -> Response {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
            (
                HeaderName::from_static("content-security-policy"),
                CONTENT_SECURITY_POLICY,
            ),
            (HeaderName::from_static("referrer-policy"), "no-referrer"),
            (HeaderName::from_static("x-content-type-options"), "nosniff"),
        ],
        PAGE,
    )
        .into_response()
}

/// `GET /admin`: to the page (its fragment, which holds the token, stays with the browser).
pub(crate) async fn to_page() -> Response {
    (
        StatusCode::PERMANENT_REDIRECT,
        [(LOCATION, HeaderValue::from_static(PAGE_PATH))],
    )
        .into_response()
}

/// Any other path under `/admin/` (with the inspector on).
pub(crate) fn no_route() -> Failure {
    Failure::new(
        ErrorKind::NotFound,
        "no such route: GET /admin/ is the inspector; its API is under /admin/api/ \
         (types, actors/{type}, actors/{type}/{key}, kv, kv/{store}, kv/{store}/{key}, stats, live, \
         events)",
    )
}

/// Any path under `/admin/api/` that is not a route of the API.
pub(crate) async fn no_api_route() -> Failure {
    no_route()
}

/// A type or a store and how many entries it has.
#[derive(Serialize)]
struct Count {
    name: String,
    count: u64,
}

/// `GET /admin/api/types`: `{"types":[{"name":"Counter","count":3}]}`.
pub(crate) async fn types(State(shared): State<Arc<Shared>>) -> Result<Response, Failure> {
    #[derive(Serialize)]
    struct Types {
        types: Vec<Count>,
    }
    let types = read(&shared.system, Inspector::types).await?;
    let types = types
        .into_iter()
        .map(|t| Count {
            name: t.name,
            count: t.count,
        })
        .collect();
    Ok(Json(Types { types }).into_response())
}

/// `GET /admin/api/kv`: `{"stores":[{"name":"config","count":2}]}`.
pub(crate) async fn stores(State(shared): State<Arc<Shared>>) -> Result<Response, Failure> {
    #[derive(Serialize)]
    struct Stores {
        stores: Vec<Count>,
    }
    let stores = read(&shared.system, Inspector::stores).await?;
    let stores = stores
        .into_iter()
        .map(|s| Count {
            name: s.name,
            count: s.count,
        })
        .collect();
    Ok(Json(Stores { stores }).into_response())
}

/// A page of keys as the API answers it: `{"keys":[...],"next":"..."}` (`next` is `null` at
/// the end).
#[derive(Serialize)]
struct Keys {
    keys: Vec<String>,
    next: Option<String>,
}

impl From<Page> for Keys {
    fn from(page: Page) -> Self {
        Self {
            keys: page.keys,
            next: page.next,
        }
    }
}

/// `GET /admin/api/actors/{type}?prefix=&after=&limit=`: a page of the type's keys. 404
/// (`unknown_actor_type`) when no actor of the type is stored.
pub(crate) async fn actor_keys(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, Failure> {
    let Path(kind) = path.map_err(|_| bad_path())?;
    bounded(
        "the actor type",
        &kind,
        MAX_STORE_NAME_BYTES,
        ErrorKind::BadPath,
    )?;
    let query = PageQuery::parse(query.as_deref(), MAX_ACTOR_KEY_BYTES)?;
    keys_page(&shared.system, kind, query, Inspector::keys, |kind| {
        Failure::new(
            ErrorKind::UnknownActorType,
            format!("no actor of type `{}` is stored", quote(kind)),
        )
    })
    .await
}

/// [`Inspector::keys`] or [`Inspector::kv_keys`]: name, prefix, after, limit.
type ListKeys = fn(&Inspector, &str, &str, Option<&str>, usize) -> Result<Page, InspectError>;

/// A page of `name`'s keys through `list` (actor keys or key-value keys); `unknown` when
/// `name` has none at all (an empty page of a known name is an answer).
async fn keys_page(
    system: &System,
    name: String,
    query: PageQuery,
    list: ListKeys,
    unknown: impl FnOnce(&str) -> Failure,
) -> Result<Response, Failure> {
    let page = read(system, move |inspector| {
        let page = list(
            inspector,
            &name,
            &query.prefix,
            query.after.as_deref(),
            query.limit,
        )?;
        let known = !page.keys.is_empty() || !list(inspector, &name, "", None, 1)?.keys.is_empty();
        Ok(known.then_some(page).ok_or(name))
    })
    .await?;
    match page {
        Ok(page) => Ok(Json(Keys::from(page)).into_response()),
        Err(name) => Err(unknown(&name)),
    }
}

/// `GET /admin/api/actors/{type}/{key}`: one actor's record, its state as JSON:
/// `{"type":"Counter","key":"room-42","id":"...","bytes":12,"state":{"count":3}}`. 404
/// (`not_found`) when there is none.
pub(crate) async fn actor(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Failure> {
    #[derive(Serialize)]
    struct Actor {
        #[serde(rename = "type")]
        kind: String,
        key: String,
        id: String,
        bytes: usize,
        state: serde_json::Value,
    }
    let Path((kind, key)) = path.map_err(|_| bad_path())?;
    bounded(
        "the actor type",
        &kind,
        MAX_STORE_NAME_BYTES,
        ErrorKind::BadPath,
    )?;
    bounded("the key", &key, MAX_ACTOR_KEY_BYTES, ErrorKind::BadKey)?;
    let record = read(&shared.system, {
        let (kind, key) = (kind.clone(), key.clone());
        move |inspector| inspector.actor(&kind, &key)
    })
    .await?
    .ok_or_else(|| {
        Failure::new(
            ErrorKind::NotFound,
            format!(
                "no actor `{}` of type `{}` is stored",
                quote(&key),
                quote(&kind)
            ),
        )
    })?;
    let unreadable = |error: crate::error::DecodeError| {
        Failure::logged(
            ErrorKind::Storage,
            "the actor's stored record does not decode",
            &error,
        )
    };
    let id = record.id().map_err(unreadable)?;
    let state = record.state().map_err(unreadable)?;
    Ok(Json(Actor {
        bytes: record.bytes.len(),
        kind: record.kind,
        key: record.key,
        id: id.to_string(),
        state,
    })
    .into_response())
}

/// `GET /admin/api/kv/{store}?prefix=&after=&limit=`: a page of the store's keys. 404
/// (`not_found`) when the store has no entry.
pub(crate) async fn kv_keys(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, Failure> {
    let Path(store) = path.map_err(|_| bad_path())?;
    bounded(
        "the store id",
        &store,
        MAX_STORE_NAME_BYTES,
        ErrorKind::BadPath,
    )?;
    let query = PageQuery::parse(query.as_deref(), MAX_KEY_BYTES)?;
    keys_page(&shared.system, store, query, Inspector::kv_keys, |store| {
        Failure::new(
            ErrorKind::NotFound,
            format!("the key-value store `{}` has no entry", quote(store)),
        )
    })
    .await
}

/// `GET /admin/api/kv/{store}/{key}`: `{"store":"config","key":"mode","value":"dark"}`. 404
/// (`not_found`) when the key is not set.
pub(crate) async fn kv_value(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Failure> {
    #[derive(Serialize)]
    struct Entry {
        store: String,
        key: String,
        value: String,
    }
    let Path((store, key)) = path.map_err(|_| bad_path())?;
    bounded(
        "the store id",
        &store,
        MAX_STORE_NAME_BYTES,
        ErrorKind::BadPath,
    )?;
    bounded("the key", &key, MAX_KEY_BYTES, ErrorKind::BadKey)?;
    let value = read(&shared.system, {
        let (store, key) = (store.clone(), key.clone());
        move |inspector| inspector.kv_get(&store, &key)
    })
    .await?
    .ok_or_else(|| {
        Failure::new(
            ErrorKind::NotFound,
            format!(
                "the key-value store `{}` has no key `{}`",
                quote(&store),
                quote(&key)
            ),
        )
    })?;
    Ok(Json(Entry { store, key, value }).into_response())
}

/// One report of the system's counters: what [`stats`] answers and the live feed sends.
#[derive(Debug, Clone, Serialize)]
struct Stats {
    /// Commits since the system opened.
    commits: u64,
    /// Commits per second over the last second (the live feed only, once sampled).
    #[serde(skip_serializing_if = "Option::is_none")]
    commits_per_second: Option<f64>,
    /// Actors running.
    awake: usize,
    /// Actors the registry holds.
    registered: usize,
    /// The commits per second of up to the last minute, oldest first (the live feed's first
    /// event only).
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<f64>>,
}

impl Stats {
    fn of(system: &System) -> Self {
        let stats = system.stats();
        Self {
            commits: stats.commits,
            commits_per_second: None,
            awake: stats.awake,
            registered: stats.registered,
            history: None,
        }
    }

    /// The report as one server-sent event.
    fn event(&self) -> Bytes {
        // Numbers only: this cannot fail to encode.
        let json = serde_json::to_string(self).unwrap_or_default();
        Bytes::from(format!("data: {json}\n\n"))
    }
}

/// The commit rate, sampled once a second by one task ([`sample`]) for every viewer of the
/// live feed, with the last minute of it, so that a page opened now draws that minute at once.
#[derive(Debug)]
pub(crate) struct Rates {
    /// The last [`HISTORY`] rates, oldest first. A std mutex: held to push or copy, never
    /// across an await.
    recent: Mutex<VecDeque<f64>>,
    /// The newest sample (`None` before the first); every open feed waits on it.
    latest: watch::Sender<Option<Stats>>,
}

/// How many samples the live feed's first event carries: a minute.
const HISTORY: usize = 60;

impl Rates {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            recent: Mutex::new(VecDeque::with_capacity(HISTORY)),
            latest: watch::Sender::new(None),
        })
    }

    fn recent(&self) -> MutexGuard<'_, VecDeque<f64>> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Samples the system's commit count once a second into `rates` until the server stops (or
/// is dropped). Started with the server when the inspector is on.
pub(crate) async fn sample(system: System, rates: Arc<Rates>, mut stop: watch::Receiver<bool>) {
    let start = Instant::now();
    let mut every = tokio::time::interval_at(start + SAMPLE_EVERY, SAMPLE_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut commits, mut at) = (system.stats().commits, start);
    loop {
        let now = tokio::select! {
            biased;
            // A dropped sender (the server gone) ends the sampling too.
            _ = stop.wait_for(|stop| *stop) => return,
            now = every.tick() => now,
        };
        let mut stats = Stats::of(&system);
        let seconds = now.duration_since(at).as_secs_f64();
        #[allow(clippy::cast_precision_loss)] // a count of commits in about a second
        let rate = if seconds > 0.0 {
            stats.commits.saturating_sub(commits) as f64 / seconds
        } else {
            0.0
        };
        let rate = (rate * 10.0).round() / 10.0;
        (commits, at) = (stats.commits, now);
        stats.commits_per_second = Some(rate);
        {
            let mut recent = rates.recent();
            if recent.len() == HISTORY {
                recent.pop_front();
            }
            recent.push_back(rate);
        }
        rates.latest.send_replace(Some(stats));
    }
}

/// `GET /admin/api/stats`: `{"commits":120,"awake":3,"registered":3}`.
pub(crate) async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(Stats::of(&shared.system)).into_response()
}

/// `GET /admin/api/live`: server-sent events. The first, at once, is the counters now with
/// the last minute of rates (`"history":[...]`); then one a second,
/// `data: {"commits":120,"commits_per_second":4.0,"awake":3,"registered":3}`, until the
/// client goes away or the server shuts down.
pub(crate) async fn live(State(shared): State<Arc<Shared>>) -> Response {
    let Some(rates) = shared.inspector.as_ref() else {
        return no_route().into_response();
    };
    let mut latest = rates.latest.subscribe();
    let mut first = Stats::of(&shared.system);
    let history: Vec<f64> = rates.recent().iter().copied().collect();
    first.commits_per_second = history.last().copied();
    first.history = Some(history);
    latest.mark_unchanged();
    let first = futures_util::stream::once(std::future::ready(Ok(first.event())));
    let rest = futures_util::stream::unfold(
        (latest, shared.stop.clone()),
        |(mut latest, mut stop)| async move {
            tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => return None,
                changed = latest.changed() => changed.ok()?,
            }
            let event = latest.borrow_and_update().as_ref().map(Stats::event)?;
            Some((Ok::<_, Infallible>(event), (latest, stop)))
        },
    );
    (
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(first.chain(rest)),
    )
        .into_response()
}

/// `GET /admin/api/events[?type=T]`: server-sent events, one per event an actor's durable
/// turn emits from now on (of actors of type `T` only, with the filter), in each actor's
/// order: `data: {"actor":"Counter/room-42","type":"Counter","key":"room-42","event":3}`.
/// An event that does not encode as JSON comes as `"error"` instead of `"event"`; one over
/// [`MAX_FEED_EVENT_BYTES`] as `"truncated"` with its size. A viewer that fell behind the
/// system's tap gets `data: {"lagged":12}` (the events it missed), then the next ones. A
/// comment line opens the stream, so a client knows it is listening; it ends when the client
/// goes away or the server shuts down.
pub(crate) async fn events(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    if shared.inspector.is_none() {
        return no_route().into_response();
    }
    let only = match EventsQuery::parse(query.as_deref()) {
        Ok(query) => query.kind,
        Err(failure) => return failure.into_response(),
    };
    // Subscribed before the answer goes out: every event after it is in the stream.
    let tap = shared.system.events_tap();
    let first = futures_util::stream::once(std::future::ready(Ok::<_, Infallible>(
        Bytes::from_static(b": live events\n\n"),
    )));
    let rest = futures_util::stream::unfold(
        (tap, shared.stop.clone(), only),
        |(mut tap, mut stop, only): (EventsTap, watch::Receiver<bool>, Option<String>)| async move {
            loop {
                let item = tokio::select! {
                    biased;
                    _ = stop.wait_for(|stop| *stop) => return None,
                    // `None`: the system is gone.
                    item = tap.next() => item?,
                };
                let line = match item {
                    Ok(tapped) => {
                        if only
                            .as_deref()
                            .is_some_and(|kind| kind != tapped.actor.kind)
                        {
                            continue;
                        }
                        feed_event(&tapped)
                    }
                    Err(lag) => serde_json::json!({ "lagged": lag.0 }).to_string(),
                };
                let event = Bytes::from(format!("data: {line}\n\n"));
                return Some((Ok::<_, Infallible>(event), (tap, stop, only)));
            }
        },
    );
    (
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(first.chain(rest)),
    )
        .into_response()
}

/// One tapped event as the events feed's JSON (one line: JSON strings escape line breaks).
fn feed_event(tapped: &TappedEvent) -> String {
    let (kind, key) = (tapped.actor.kind, tapped.actor.key.as_str());
    let actor = format!("{kind}/{key}");
    let mut item = serde_json::json!({ "actor": actor, "type": kind, "key": key });
    match &tapped.event {
        Ok(event) => item["event"] = event.clone(),
        Err(error) => item["error"] = format!("the event does not encode as JSON: {error}").into(),
    }
    let line = item.to_string();
    if line.len() <= MAX_FEED_EVENT_BYTES {
        return line;
    }
    serde_json::json!({ "actor": actor, "type": kind, "key": key, "truncated": line.len() })
        .to_string()
}

/// The query of the events feed: an optional `type`.
#[derive(Debug, PartialEq, Eq)]
struct EventsQuery {
    kind: Option<String>,
}

impl EventsQuery {
    /// Parses a query string; `type` is at most [`MAX_TYPE_FILTER_BYTES`]. Unknown
    /// parameters are refused.
    fn parse(query: Option<&str>) -> Result<Self, Failure> {
        let query = query.unwrap_or_default();
        if query.len() > MAX_QUERY_BYTES {
            return Err(Failure::new(
                ErrorKind::BadArguments,
                format!("the query is over {MAX_QUERY_BYTES} bytes"),
            ));
        }
        let mut parsed = Self { kind: None };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if name != "type" {
                return Err(Failure::new(
                    ErrorKind::BadArguments,
                    format!(
                        "unknown parameter `{}`: the events feed takes only type",
                        quote(&name)
                    ),
                ));
            }
            bounded(
                "type",
                &value,
                MAX_TYPE_FILTER_BYTES,
                ErrorKind::BadArguments,
            )?;
            parsed.kind = Some(value.into_owned()).filter(|kind| !kind.is_empty());
        }
        Ok(parsed)
    }
}

/// The query of a page of keys: `prefix`, `after`, `limit` (1 to [`MAX_PAGE_KEYS`]).
#[derive(Debug, PartialEq, Eq)]
struct PageQuery {
    prefix: String,
    after: Option<String>,
    limit: usize,
}

impl PageQuery {
    /// Parses a query string; `prefix` and `after` are at most `max_key` bytes. Unknown
    /// parameters are refused, so that a misspelt one does not go unnoticed.
    fn parse(query: Option<&str>, max_key: usize) -> Result<Self, Failure> {
        let mut parsed = Self {
            prefix: String::new(),
            after: None,
            limit: DEFAULT_PAGE_KEYS,
        };
        let query = query.unwrap_or_default();
        if query.len() > MAX_QUERY_BYTES {
            return Err(Failure::new(
                ErrorKind::BadArguments,
                format!("the query is over {MAX_QUERY_BYTES} bytes"),
            ));
        }
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "prefix" => {
                    bounded("prefix", &value, max_key, ErrorKind::BadArguments)?;
                    parsed.prefix = value.into_owned();
                }
                "after" => {
                    bounded("after", &value, max_key, ErrorKind::BadArguments)?;
                    parsed.after = Some(value.into_owned()).filter(|a| !a.is_empty());
                }
                "limit" => {
                    parsed.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE_KEYS).contains(n))
                        .ok_or_else(|| {
                            Failure::new(
                                ErrorKind::BadArguments,
                                format!("limit must be a number from 1 to {MAX_PAGE_KEYS}"),
                            )
                        })?;
                }
                other => {
                    return Err(Failure::new(
                        ErrorKind::BadArguments,
                        format!(
                            "unknown parameter `{}`: a page of keys takes prefix, after and limit",
                            quote(other)
                        ),
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

/// Refuses `value` if it is over `max` bytes.
fn bounded(what: &str, value: &str, max: usize, kind: ErrorKind) -> Result<(), Failure> {
    if value.len() > max {
        return Err(Failure::new(
            kind,
            format!("{what} is {} bytes, over the limit of {max}", value.len()),
        ));
    }
    Ok(())
}

fn bad_path() -> Failure {
    Failure::new(
        ErrorKind::BadPath,
        "the path is not valid: each segment must be percent-encoded UTF-8",
    )
}

/// Runs `query` on the system's file, on a blocking thread (a count of every type reads
/// every key).
async fn read<T, F>(system: &System, query: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&Inspector) -> Result<T, InspectError> + Send + 'static,
{
    let inspector = system.inspect().map_err(|e| failure(&e))?;
    tokio::task::spawn_blocking(move || query(&inspector))
        .await
        .map_err(|e| Failure::logged(ErrorKind::Internal, "the read did not complete", &e))?
        .map_err(|e| failure(&e))
}

/// The answer to a failed read of the system's file.
fn failure(error: &InspectError) -> Failure {
    match error {
        InspectError::Shutdown => {
            Failure::new(ErrorKind::ShuttingDown, "the server is shutting down")
        }
        InspectError::NotFileBacked => Failure::new(
            ErrorKind::NotFound,
            "the system does not run on a redb file: there is nothing to inspect",
        ),
        _ => Failure::logged(ErrorKind::Storage, "the store could not be read", error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_queries_are_bounded() {
        let parse = |q: &str| PageQuery::parse(Some(q), 8);
        assert_eq!(
            parse("prefix=a%2Fb&after=a%2Fb1&limit=5").ok(),
            Some(PageQuery {
                prefix: "a/b".into(),
                after: Some("a/b1".into()),
                limit: 5,
            })
        );
        assert_eq!(PageQuery::parse(None, 8).ok().map(|q| q.limit), Some(100));
        assert!(parse("limit=0").is_err());
        assert!(parse("limit=1001").is_err());
        assert!(parse("limit=x").is_err());
        assert!(parse("prefix=123456789").is_err());
        assert!(parse("colour=red").is_err());
        assert!(parse("after=").is_ok_and(|q| q.after.is_none()));
    }

    #[test]
    fn the_events_query_is_bounded() {
        let parse = |q: &str| EventsQuery::parse(Some(q));
        assert_eq!(
            parse("type=Counter").ok(),
            Some(EventsQuery {
                kind: Some("Counter".into())
            })
        );
        assert!(parse("").is_ok_and(|q| q.kind.is_none()));
        assert!(parse("type=").is_ok_and(|q| q.kind.is_none()));
        assert!(parse(&format!("type={}", "a".repeat(MAX_TYPE_FILTER_BYTES + 1))).is_err());
        assert!(parse("kind=Counter").is_err());
    }

    #[test]
    fn a_huge_event_is_sent_as_its_size() {
        let actor = crate::ActorPath {
            kind: "Counter",
            key: crate::ActorKey::from_encoded("k"),
        };
        let small = TappedEvent {
            actor: actor.clone(),
            event: Ok(serde_json::json!(3)),
        };
        let line: serde_json::Value = serde_json::from_str(&feed_event(&small)).unwrap();
        assert_eq!(
            line,
            serde_json::json!({"actor": "Counter/k", "type": "Counter", "key": "k", "event": 3})
        );
        let huge = TappedEvent {
            actor,
            event: Ok(serde_json::json!("x".repeat(MAX_FEED_EVENT_BYTES))),
        };
        let line: serde_json::Value = serde_json::from_str(&feed_event(&huge)).unwrap();
        assert!(line.get("event").is_none());
        assert!(line["truncated"].as_u64().unwrap() > MAX_FEED_EVENT_BYTES as u64);
    }
}
