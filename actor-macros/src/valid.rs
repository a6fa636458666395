//! The rules the macros' input must follow. Each problem is reported at the tokens that cause
//! it, and all of them at once.
//!
//! What only the type checker can know (that an argument type is serde-serializable) is
//! checked by code that `expand` emits, spanned at the type.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, FnArg, Pat, Type};

use crate::model::{Action, ActorImpl, Hook, ctx_arg};

/// Adds `error` to the errors collected so far.
pub(crate) fn combine(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(all) => all.combine(error),
        None => *errors = Some(error),
    }
}

/// `#[derive(Actor)]` goes on a non-generic struct with named fields (its persisted state).
pub(crate) fn actor_struct(input: &DeriveInput, errors: &mut Option<syn::Error>) {
    match &input.data {
        Data::Struct(s) if matches!(s.fields, syn::Fields::Named(_) | syn::Fields::Unit) => {}
        Data::Struct(s) => combine(
            errors,
            syn::Error::new_spanned(
                &s.fields,
                "#[derive(Actor)] needs a struct with named fields (its persisted state)",
            ),
        ),
        Data::Enum(e) => combine(
            errors,
            syn::Error::new(
                e.enum_token.span,
                "#[derive(Actor)] is for structs; wrap the enum in a struct field",
            ),
        ),
        Data::Union(u) => combine(
            errors,
            syn::Error::new(u.union_token.span, "#[derive(Actor)] is for structs"),
        ),
    }
    if !input.generics.params.is_empty() {
        combine(
            errors,
            syn::Error::new_spanned(&input.generics, "an actor type cannot be generic"),
        );
    }
}

/// `#[actions]` takes no options and goes on an inherent, non-generic impl block whose
/// actions and hooks have the shapes the runtime can call.
pub(crate) fn actions(args: &TokenStream, model: &ActorImpl<'_>) -> syn::Result<()> {
    let mut errors = None;
    if let Some(first) = args.clone().into_iter().next() {
        combine(
            &mut errors,
            syn::Error::new(
                first.span(),
                "#[actions] takes no options; put actor options in #[actor(...)] on the struct",
            ),
        );
    }
    let item = model.item;
    if item.trait_.is_some() {
        combine(
            &mut errors,
            syn::Error::new(
                item.impl_token.span,
                "#[actions] goes on an inherent impl block (`impl Counter { ... }`), not a trait impl",
            ),
        );
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        combine(
            &mut errors,
            syn::Error::new(item.generics.span(), "an actor type cannot be generic"),
        );
    }
    for a in &model.actions {
        action(a, &mut errors);
    }
    for h in &model.hooks {
        hook(h, &mut errors);
    }
    errors.map_or(Ok(()), Err)
}

fn action(action: &Action<'_>, errors: &mut Option<syn::Error>) {
    let sig = action.sig;
    let name = &sig.ident;
    if sig.asyncness.is_none() {
        combine(
            errors,
            syn::Error::new(
                sig.fn_token.span,
                format!(
                    "the action `{name}` must be an `async fn` (a private `fn` is not an action)"
                ),
            ),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        combine(
            errors,
            syn::Error::new(
                sig.generics.span(),
                format!(
                    "the action `{name}` cannot be generic: its arguments are stored in an enum"
                ),
            ),
        );
    }
    match action.receiver {
        Some(r) if r.reference.is_some() => {}
        Some(r) => combine(
            errors,
            syn::Error::new(
                r.span(),
                format!(
                    "the action `{name}` takes `self` by value; actions take `&self` (read-only) or `&mut self`"
                ),
            ),
        ),
        None => combine(
            errors,
            syn::Error::new(
                name.span(),
                format!("the action `{name}` needs a `&self` or `&mut self` receiver"),
            ),
        ),
    }
    if let Some(ctx) = &action.ctx
        && ctx.mutable
        && !action.mutates()
    {
        combine(
            errors,
            syn::Error::new(
                ctx.ty.span(),
                format!("the read-only action `{name}` takes `&Ctx<Self>`, not `&mut Ctx<Self>`"),
            ),
        );
    }
    for arg in &action.args {
        if !matches!(&*arg.input.pat, Pat::Ident(_)) {
            combine(
                errors,
                syn::Error::new(
                    arg.input.pat.span(),
                    "action arguments must be plain names (`by: i64`), not patterns",
                ),
            );
        } else if let Type::Reference(r) = arg.ty() {
            combine(
                errors,
                syn::Error::new(
                    r.span(),
                    "action arguments must be owned values (they travel through the mailbox and may be stored)",
                ),
            );
        }
    }
}

/// `async fn on_wake(&mut self)` or `async fn on_wake(&mut self, ctx: &mut Ctx<Self>)`, and
/// `&self` with `&Ctx<Self>` for `on_state_change`.
fn hook(hook: &Hook<'_>, errors: &mut Option<syn::Error>) {
    let sig = hook.sig;
    let name = &sig.ident;
    let mut inputs = sig.inputs.iter();
    let receiver_ok = matches!(
        inputs.next(),
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_some() == hook.mutates
    );
    let ctx_ok = match inputs.next() {
        None => true,
        Some(FnArg::Typed(t)) => ctx_arg(&t.ty).is_some_and(|ctx| ctx.mutable == hook.mutates),
        Some(FnArg::Receiver(_)) => false,
    };
    if !(sig.asyncness.is_some() && receiver_ok && ctx_ok && inputs.next().is_none()) {
        let (receiver, ctx) = if hook.mutates {
            ("&mut self", "&mut Ctx<Self>")
        } else {
            ("&self", "&Ctx<Self>")
        };
        combine(
            errors,
            syn::Error::new(
                name.span(),
                format!(
                    "the hook `{name}` must be `async fn {name}({receiver})` or `async fn {name}({receiver}, ctx: {ctx})`"
                ),
            ),
        );
    }
}
