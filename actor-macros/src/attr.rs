//! Parsing and checking the options of `#[derive(Actor)]`: `#[actor(...)]`.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, LitInt, LitStr, Path, Type};

/// The options given in `#[actor(...)]`, each at most once.
#[derive(Default)]
pub(crate) struct ActorOptions {
    pub(crate) name: Option<LitStr>,
    pub(crate) create_state: Option<Path>,
    pub(crate) input: Option<Type>,
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

const ACTOR_KEYS: &str = "`name`, `create_state`, `input`, `state_version`, `migrate`, \
     `mailbox_capacity`, `max_state_bytes`, `sleep_after_ms`, `never_sleep`, `restart`";
const RESTART_KEYS: &str = "`max_restarts`, `window_ms`, `initial_backoff_ms`, `max_backoff_ms`";

/// Collects every `#[actor(...)]` attribute into one set of options; all errors are combined.
pub(crate) fn parse(attrs: &[Attribute]) -> syn::Result<ActorOptions> {
    let mut options = ActorOptions::default();
    let mut errors: Option<syn::Error> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("actor")) {
        let result = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match key.as_str() {
                "name" => set(&mut options.name, &meta, |m| m.value()?.parse()),
                "create_state" => set(&mut options.create_state, &meta, |m| m.value()?.parse()),
                "input" => set(&mut options.input, &meta, |m| m.value()?.parse()),
                "state_version" => set(&mut options.state_version, &meta, |m| m.value()?.parse()),
                "migrate" => set(&mut options.migrate, &meta, |m| m.value()?.parse()),
                "mailbox_capacity" => {
                    set(&mut options.mailbox_capacity, &meta, |m| m.value()?.parse())
                }
                "max_state_bytes" => {
                    set(&mut options.max_state_bytes, &meta, |m| m.value()?.parse())
                }
                "sleep_after_ms" => set(&mut options.sleep_after_ms, &meta, |m| m.value()?.parse()),
                "never_sleep" => set(&mut options.never_sleep, &meta, |_| Ok(())),
                "restart" => set(&mut options.restart, &meta, parse_restart),
                _ => Err(meta.error(format!(
                    "unknown `actor` option; the valid options are {ACTOR_KEYS}"
                ))),
            }
        });
        if let Err(e) = result {
            combine(&mut errors, e);
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(options),
    }
}

fn parse_restart(meta: &ParseNestedMeta<'_>) -> syn::Result<RestartOptions> {
    let mut restart = RestartOptions::default();
    meta.parse_nested_meta(|inner| {
        let key = inner
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let slot = match key.as_str() {
            "max_restarts" => &mut restart.max_restarts,
            "window_ms" => &mut restart.window_ms,
            "initial_backoff_ms" => &mut restart.initial_backoff_ms,
            "max_backoff_ms" => &mut restart.max_backoff_ms,
            _ => {
                return Err(inner.error(format!(
                    "unknown `restart` option; the valid options are {RESTART_KEYS}"
                )));
            }
        };
        set(slot, &inner, |m| m.value()?.parse())
    })?;
    Ok(restart)
}

/// Stores an option's value, refusing a second one.
fn set<T>(
    slot: &mut Option<T>,
    meta: &ParseNestedMeta<'_>,
    parse: impl FnOnce(&ParseNestedMeta<'_>) -> syn::Result<T>,
) -> syn::Result<()> {
    let value = parse(meta)?;
    if slot.is_some() {
        let name = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(meta.error(format!("the option `{name}` is given more than once")));
    }
    *slot = Some(value);
    Ok(())
}

/// Adds `error` to the errors collected so far.
pub(crate) fn combine(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(all) => all.combine(error),
        None => *errors = Some(error),
    }
}

/// An error at the macro's call site, for problems with no better span.
pub(crate) fn call_site(message: &str) -> syn::Error {
    syn::Error::new(Span::call_site(), message)
}
