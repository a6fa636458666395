//! Parsing the options of `#[derive(Actor)]`: `#[actor(...)]`, each given at most once.

use proc_macro2::TokenTree;
use syn::meta::ParseNestedMeta;
use syn::parse::Parse;
use syn::{Attribute, Expr, LitInt, LitStr, Path, Token, Type, token};

use crate::valid::combine;

/// The options given in `#[actor(...)]`, each at most once.
#[derive(Default)]
pub(crate) struct ActorOptions {
    pub(crate) name: Option<LitStr>,
    pub(crate) create_state: Option<Path>,
    pub(crate) input: Option<Type>,
    pub(crate) event: Option<Type>,
    pub(crate) state_version: Option<LitInt>,
    pub(crate) migrate: Option<Path>,
    pub(crate) mailbox_capacity: Option<Expr>,
    pub(crate) max_state_bytes: Option<Expr>,
    pub(crate) sleep_after_ms: Option<Expr>,
    pub(crate) never_sleep: Option<()>,
    pub(crate) restart: Option<RestartOptions>,
}

/// The options of `restart(...)`.
#[derive(Default)]
pub(crate) struct RestartOptions {
    pub(crate) max_restarts: Option<Expr>,
    pub(crate) window_ms: Option<Expr>,
    pub(crate) initial_backoff_ms: Option<Expr>,
    pub(crate) max_backoff_ms: Option<Expr>,
}

const ACTOR_KEYS: &str = "`name`, `create_state`, `input`, `event`, `state_version`, \
     `migrate`, `mailbox_capacity`, `max_state_bytes`, `sleep_after_ms`, `never_sleep`, `restart`";
const RESTART_KEYS: &str = "`max_restarts`, `window_ms`, `initial_backoff_ms`, `max_backoff_ms`";

/// Collects every `#[actor(...)]` attribute into one set of options. Every error goes to
/// `errors`, and reading goes on past it: what was read is returned, for the fallback.
pub(crate) fn parse(attrs: &[Attribute], errors: &mut Option<syn::Error>) -> ActorOptions {
    let mut options = ActorOptions::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("actor")) {
        let result = attr.parse_nested_meta(|meta| {
            let o = &mut options;
            match key(&meta).as_str() {
                "name" => store(&mut o.name, value(&meta)?, &meta, errors),
                "create_state" => store(&mut o.create_state, value(&meta)?, &meta, errors),
                "input" => store(&mut o.input, value(&meta)?, &meta, errors),
                "event" => store(&mut o.event, value(&meta)?, &meta, errors),
                "state_version" => store(&mut o.state_version, value(&meta)?, &meta, errors),
                "migrate" => store(&mut o.migrate, value(&meta)?, &meta, errors),
                "mailbox_capacity" => store(&mut o.mailbox_capacity, value(&meta)?, &meta, errors),
                "max_state_bytes" => store(&mut o.max_state_bytes, value(&meta)?, &meta, errors),
                "sleep_after_ms" => store(&mut o.sleep_after_ms, value(&meta)?, &meta, errors),
                "never_sleep" => store(&mut o.never_sleep, (), &meta, errors),
                "restart" => {
                    let restart = parse_restart(&meta, errors)?;
                    store(&mut o.restart, restart, &meta, errors);
                }
                _ => {
                    combine(
                        errors,
                        meta.error(format!(
                            "unknown `actor` option; the valid options are {ACTOR_KEYS}"
                        )),
                    );
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            combine(errors, e);
        }
    }
    options
}

fn parse_restart(
    meta: &ParseNestedMeta<'_>,
    errors: &mut Option<syn::Error>,
) -> syn::Result<RestartOptions> {
    let mut restart = RestartOptions::default();
    meta.parse_nested_meta(|inner| {
        let slot = match key(&inner).as_str() {
            "max_restarts" => &mut restart.max_restarts,
            "window_ms" => &mut restart.window_ms,
            "initial_backoff_ms" => &mut restart.initial_backoff_ms,
            "max_backoff_ms" => &mut restart.max_backoff_ms,
            _ => {
                combine(
                    errors,
                    inner.error(format!(
                        "unknown `restart` option; the valid options are {RESTART_KEYS}"
                    )),
                );
                return skip_value(&inner);
            }
        };
        store(slot, value(&inner)?, &inner, errors);
        Ok(())
    })?;
    Ok(restart)
}

/// The option's name (empty for a path such as `a::b`, which no option matches).
fn key(meta: &ParseNestedMeta<'_>) -> String {
    meta.path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The option's value: `= value`.
fn value<T: Parse>(meta: &ParseNestedMeta<'_>) -> syn::Result<T> {
    meta.value()?.parse()
}

/// Skips an unknown option's value (`= value` or `(...)`), so the options after it are read.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        value::<Expr>(meta)?;
    } else if meta.input.peek(token::Paren) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// Stores an option's value, refusing a second one.
fn store<T>(
    slot: &mut Option<T>,
    value: T,
    meta: &ParseNestedMeta<'_>,
    errors: &mut Option<syn::Error>,
) {
    if slot.is_some() {
        combine(
            errors,
            meta.error(format!(
                "the option `{}` is given more than once",
                key(meta)
            )),
        );
    } else {
        *slot = Some(value);
    }
}
