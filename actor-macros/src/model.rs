//! The model of an `#[actions]` impl block: what the syntax says, read leniently. Whether it is
//! allowed is `valid`'s business; `expand` works from a model that passed it.

use proc_macro2::Ident;
use quote::format_ident;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, ImplItem, ItemImpl, Pat, PatType, PathArguments, Receiver,
    ReturnType, Signature, Type, Visibility,
};

/// The actor type, its actions and its hooks.
pub(crate) struct ActorImpl<'a> {
    pub(crate) item: &'a ItemImpl,
    /// The actor type's name (`Counter`).
    pub(crate) actor: &'a Ident,
    pub(crate) actions: Vec<Action<'a>>,
    /// Private methods named like a lifecycle hook (`on_wake`, ...).
    pub(crate) hooks: Vec<Hook<'a>>,
}

/// A private `async fn on_create|on_wake|on_state_change|on_sleep|on_destroy`.
pub(crate) struct Hook<'a> {
    pub(crate) sig: &'a Signature,
    /// Whether the hook takes `&mut self` (all but `on_state_change`).
    pub(crate) mutates: bool,
    /// Whether it takes the context after `self`.
    pub(crate) takes_ctx: bool,
}

/// The hooks, and whether each takes `&self` (only `on_state_change`) or `&mut self`.
const HOOKS: [(&str, bool); 5] = [
    ("on_create", true),
    ("on_wake", true),
    ("on_state_change", false),
    ("on_sleep", true),
    ("on_destroy", true),
];

/// One `pub async fn` (or `pub(crate)`, ...) of the impl block.
pub(crate) struct Action<'a> {
    pub(crate) sig: &'a Signature,
    /// The name it is called by (`increment`; `type` for `r#type`).
    pub(crate) name: String,
    /// The enum variant's name (`Increment`).
    pub(crate) variant: Ident,
    /// The first input, if it is `self` in some form.
    pub(crate) receiver: Option<&'a Receiver>,
    /// The context, if the first input after `self` is `&Ctx<..>` or `&mut Ctx<..>`.
    pub(crate) ctx: Option<CtxArg<'a>>,
    /// The action's own arguments.
    pub(crate) args: Vec<Arg<'a>>,
    /// What the caller gets on success.
    pub(crate) ok: Type,
    /// The error type, if the method returns `Result<_, E>`.
    pub(crate) err: Option<Type>,
    /// The method's doc comments, reused on the typed handle method.
    pub(crate) docs: Vec<&'a Attribute>,
}

/// `ctx: &Ctx<Self>` or `ctx: &mut Ctx<Self>`.
pub(crate) struct CtxArg<'a> {
    pub(crate) mutable: bool,
    pub(crate) ty: &'a Type,
}

/// An argument of an action.
pub(crate) struct Arg<'a> {
    pub(crate) input: &'a PatType,
    /// The argument's name: its pattern when that is a plain name (anything else is refused by
    /// `valid`).
    pub(crate) name: Ident,
}

impl<'a> ActorImpl<'a> {
    /// Reads the impl block; fails only when there is no actor type name to build on.
    pub(crate) fn from_syn(item: &'a ItemImpl) -> syn::Result<Self> {
        let actor = match &*item.self_ty {
            Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| &s.ident),
            _ => None,
        };
        let actor = actor.ok_or_else(|| {
            syn::Error::new(item.self_ty.span(), "#[actions] needs a named actor type")
        })?;
        let mut actions = Vec::new();
        let mut hooks = Vec::new();
        for impl_item in &item.items {
            let ImplItem::Fn(f) = impl_item else { continue };
            if !matches!(f.vis, Visibility::Inherited) {
                actions.push(Action::from_syn(&f.sig, &f.attrs));
            } else if let Some(&(_, mutates)) = HOOKS.iter().find(|(n, _)| f.sig.ident == n) {
                hooks.push(Hook {
                    sig: &f.sig,
                    mutates,
                    takes_ctx: f.sig.inputs.len() > 1,
                });
            }
            // Any other private method is a helper, left as it is.
        }
        Ok(Self {
            item,
            actor,
            actions,
            hooks,
        })
    }
}

impl<'a> Action<'a> {
    fn from_syn(sig: &'a Signature, attrs: &'a [Attribute]) -> Self {
        let mut inputs = sig.inputs.iter().peekable();
        let receiver = match inputs.peek() {
            Some(FnArg::Receiver(r)) => {
                inputs.next();
                Some(r)
            }
            _ => None,
        };
        let mut typed = inputs
            .filter_map(|input| match input {
                FnArg::Typed(t) => Some(t),
                FnArg::Receiver(_) => None,
            })
            .peekable();
        let ctx = typed
            .next_if(|t| ctx_arg(&t.ty).is_some())
            .and_then(|t| ctx_arg(&t.ty));
        let args = typed
            .enumerate()
            .map(|(i, input)| Arg {
                input,
                name: match &*input.pat {
                    Pat::Ident(p) => p.ident.clone(),
                    _ => format_ident!("__arg{}", i),
                },
            })
            .collect();
        let (ok, err) = split_result(&sig.output);
        let method = &sig.ident;
        Action {
            sig,
            name: method.unraw().to_string(),
            variant: format_ident!(
                "{}",
                upper_camel(&method.unraw().to_string()),
                span = method.span()
            ),
            receiver,
            ctx,
            args,
            ok,
            err,
            docs: attrs.iter().filter(|a| a.path().is_ident("doc")).collect(),
        }
    }

    /// The method's name (`increment`).
    pub(crate) fn method(&self) -> &'a Ident {
        &self.sig.ident
    }

    /// Whether it takes `&mut self` (may change the state) rather than `&self` (read-only).
    pub(crate) fn mutates(&self) -> bool {
        self.receiver.is_some_and(|r| r.mutability.is_some())
    }
}

impl Arg<'_> {
    pub(crate) fn ty(&self) -> &Type {
        &self.input.ty
    }
}

impl Hook<'_> {
    /// The hook's name (`on_wake`).
    pub(crate) fn name(&self) -> &Ident {
        &self.sig.ident
    }
}

/// `&Ctx<..>` or `&mut Ctx<..>` (by the last path segment's name).
pub(crate) fn ctx_arg(ty: &Type) -> Option<CtxArg<'_>> {
    let Type::Reference(r) = ty else { return None };
    let Type::Path(p) = &*r.elem else { return None };
    let last = p.path.segments.last()?;
    (last.ident == "Ctx").then_some(CtxArg {
        mutable: r.mutability.is_some(),
        ty,
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
