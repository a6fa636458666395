//! The model of an `#[actions]` impl block, built from the syntax and checked: every problem
//! is reported at the tokens that cause it, and all of them at once.

use proc_macro2::Ident;
use quote::format_ident;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, ImplItem, ItemImpl, Pat, PathArguments, ReturnType, Type,
    Visibility,
};

use crate::attr::combine;

/// The actor type, its actions and its hooks.
pub(crate) struct ActorImpl {
    /// The actor type's name (`Counter`).
    pub(crate) actor: Ident,
    pub(crate) actions: Vec<Action>,
    /// Private methods named like a lifecycle hook (`on_wake`, ...).
    pub(crate) hooks: Vec<HookFn>,
}

/// A private `async fn on_create|on_wake|on_state_change|on_sleep|on_destroy`.
pub(crate) struct HookFn {
    pub(crate) name: Ident,
    /// Whether it takes the context after `self`.
    pub(crate) takes_ctx: bool,
}

/// The hooks, and whether each takes `&self` (only `on_state_change`) or `&mut self`.
pub(crate) const HOOKS: [(&str, bool); 5] = [
    ("on_create", true),
    ("on_wake", true),
    ("on_state_change", false),
    ("on_sleep", true),
    ("on_destroy", true),
];

/// One `pub async fn` (or `pub(crate)`, ...) of the impl block.
pub(crate) struct Action {
    /// The method's name (`increment`).
    pub(crate) method: Ident,
    /// The enum variant's name (`Increment`).
    pub(crate) variant: Ident,
    /// `&mut self` (may change state) or `&self` (read-only).
    pub(crate) mutates: bool,
    /// How the method takes the context, if it does.
    pub(crate) ctx: Option<CtxArg>,
    /// The action's own arguments.
    pub(crate) args: Vec<(Ident, Type)>,
    /// What the caller gets on success.
    pub(crate) ok: Type,
    /// The error type, if the method returns `Result<_, E>`.
    pub(crate) err: Option<Type>,
    /// The method's doc comments, reused on the typed handle method.
    pub(crate) docs: Vec<Attribute>,
}

/// `ctx: &Ctx<Self>` or `ctx: &mut Ctx<Self>`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CtxArg {
    Shared,
    Mut,
}

impl ActorImpl {
    /// Reads and checks the impl block.
    pub(crate) fn from_impl(item: &ItemImpl) -> syn::Result<Self> {
        let mut errors = None;
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
        let actor = match &*item.self_ty {
            Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
            _ => None,
        };
        let actor = actor.ok_or_else(|| {
            syn::Error::new(item.self_ty.span(), "#[actions] needs a named actor type")
        });
        let mut actions = Vec::new();
        let mut hooks = Vec::new();
        for impl_item in &item.items {
            let ImplItem::Fn(f) = impl_item else { continue };
            if matches!(f.vis, Visibility::Inherited) {
                if let Some(&(_, mutates)) = HOOKS.iter().find(|(n, _)| f.sig.ident == n) {
                    match HookFn::from_fn(&f.sig, mutates) {
                        Ok(hook) => hooks.push(hook),
                        Err(e) => combine(&mut errors, e),
                    }
                }
                continue; // a private helper method, left as it is
            }
            match Action::from_fn(&f.sig, &f.attrs) {
                Ok(action) => actions.push(action),
                Err(e) => combine(&mut errors, e),
            }
        }
        let actor = match actor {
            Ok(actor) => Some(actor),
            Err(e) => {
                combine(&mut errors, e);
                None
            }
        };
        match (errors, actor) {
            (Some(e), _) => Err(e),
            (None, Some(actor)) => Ok(Self {
                actor,
                actions,
                hooks,
            }),
            (None, None) => Err(crate::attr::call_site(
                "#[actions] needs a named actor type",
            )),
        }
    }
}

impl HookFn {
    fn from_fn(sig: &syn::Signature, mutates: bool) -> syn::Result<Self> {
        let name = &sig.ident;
        let receiver = if mutates { "&mut self" } else { "&self" };
        let ctx = if mutates {
            "&mut Ctx<Self>"
        } else {
            "&Ctx<Self>"
        };
        let expected = format!(
            "the hook `{name}` must be `async fn {name}({receiver})` or `async fn {name}({receiver}, ctx: {ctx})`"
        );
        let mut inputs = sig.inputs.iter();
        let receiver_ok = matches!(
            inputs.next(),
            Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_some() == mutates
        );
        let ctx_arg = inputs.next();
        let takes_ctx = match ctx_arg {
            None => Some(false),
            Some(FnArg::Typed(t)) => ctx_kind(&t.ty)
                .filter(|k| (*k == CtxArg::Mut) == mutates)
                .map(|_| true),
            Some(FnArg::Receiver(_)) => None,
        };
        match (
            sig.asyncness.is_some() && receiver_ok && inputs.next().is_none(),
            takes_ctx,
        ) {
            (true, Some(takes_ctx)) => Ok(Self {
                name: name.clone(),
                takes_ctx,
            }),
            _ => Err(syn::Error::new(name.span(), expected)),
        }
    }
}

impl Action {
    fn from_fn(sig: &syn::Signature, attrs: &[Attribute]) -> syn::Result<Self> {
        let mut errors = None;
        let name = &sig.ident;
        if sig.asyncness.is_none() {
            combine(
                &mut errors,
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
                &mut errors,
                syn::Error::new(
                    sig.generics.span(),
                    format!(
                        "the action `{name}` cannot be generic: its arguments are stored in an enum"
                    ),
                ),
            );
        }
        let mut inputs = sig.inputs.iter();
        let mutates = match inputs.next() {
            Some(FnArg::Receiver(r)) if r.reference.is_some() => r.mutability.is_some(),
            Some(FnArg::Receiver(r)) => {
                combine(
                    &mut errors,
                    syn::Error::new(
                        r.span(),
                        format!(
                            "the action `{name}` takes `self` by value; actions take `&self` (read-only) or `&mut self`"
                        ),
                    ),
                );
                false
            }
            _ => {
                combine(
                    &mut errors,
                    syn::Error::new(
                        name.span(),
                        format!("the action `{name}` needs a `&self` or `&mut self` receiver"),
                    ),
                );
                false
            }
        };
        let (ctx, args) = arguments(name, mutates, inputs, &mut errors);
        let (ok, err) = split_result(&sig.output);
        let docs = attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect();
        match errors {
            Some(e) => Err(e),
            None => Ok(Self {
                method: name.clone(),
                variant: format_ident!("{}", upper_camel(&name.to_string()), span = name.span()),
                mutates,
                ctx,
                args,
                ok,
                err,
                docs,
            }),
        }
    }
}

/// The context argument and the action's own arguments, after the receiver.
fn arguments<'a>(
    name: &Ident,
    mutates: bool,
    inputs: impl Iterator<Item = &'a FnArg>,
    errors: &mut Option<syn::Error>,
) -> (Option<CtxArg>, Vec<(Ident, Type)>) {
    let mut ctx = None;
    let mut args = Vec::new();
    for (i, input) in inputs.enumerate() {
        let FnArg::Typed(pat_type) = input else {
            continue;
        };
        if i == 0
            && let Some(kind) = ctx_kind(&pat_type.ty)
        {
            if kind == CtxArg::Mut && !mutates {
                combine(
                    errors,
                    syn::Error::new(
                        pat_type.ty.span(),
                        format!(
                            "the read-only action `{name}` takes `&Ctx<Self>`, not `&mut Ctx<Self>`"
                        ),
                    ),
                );
            }
            ctx = Some(kind);
            continue;
        }
        let Pat::Ident(ident) = &*pat_type.pat else {
            combine(
                errors,
                syn::Error::new(
                    pat_type.pat.span(),
                    "action arguments must be plain names (`by: i64`), not patterns",
                ),
            );
            continue;
        };
        if let Type::Reference(r) = &*pat_type.ty {
            combine(
                errors,
                syn::Error::new(
                    r.span(),
                    "action arguments must be owned values (they travel through the mailbox and may be stored)",
                ),
            );
            continue;
        }
        args.push((ident.ident.clone(), (*pat_type.ty).clone()));
    }
    (ctx, args)
}

/// `&Ctx<..>` or `&mut Ctx<..>` (by the last path segment's name).
fn ctx_kind(ty: &Type) -> Option<CtxArg> {
    let Type::Reference(r) = ty else { return None };
    let Type::Path(p) = &*r.elem else { return None };
    let last = p.path.segments.last()?;
    (last.ident == "Ctx").then_some(if r.mutability.is_some() {
        CtxArg::Mut
    } else {
        CtxArg::Shared
    })
}

/// `T` → (`T`, None); `Result<T, E>` → (`T`, Some(`E`)); nothing → (`()`, None).
fn split_result(output: &ReturnType) -> (Type, Option<Type>) {
    let ReturnType::Type(_, ty) = output else {
        return (syn::parse_quote!(()), None);
    };
    if let Type::Path(p) = &**ty
        && let Some(last) = p.path.segments.last()
        && last.ident == "Result"
        && let PathArguments::AngleBracketed(args) = &last.arguments
    {
        let types: Vec<&Type> = args
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect();
        if let [ok, err] = types[..] {
            return (ok.clone(), Some(err.clone()));
        }
    }
    ((**ty).clone(), None)
}

/// `increment_by` → `IncrementBy`.
fn upper_camel(snake: &str) -> String {
    snake
        .trim_start_matches("r#")
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}
