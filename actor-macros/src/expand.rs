//! Code generation, and the pipeline of each macro: parse, read the model, validate, then
//! expand, or emit the error with a fallback. Everything generated names the runtime by
//! absolute paths, so users need no extra imports.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{DeriveInput, ItemImpl, Type};

use crate::attr::{self, ActorOptions};
use crate::model::{Action, ActorImpl, Arg};
use crate::{fallback, valid};

/// `#[derive(Actor)]`: the `ActorMeta` impl, or the errors and a stub of it.
pub(crate) fn derive_actor(input: &DeriveInput) -> TokenStream {
    let mut errors = None;
    valid::actor_struct(input, &mut errors);
    let options = attr::parse(&input.attrs, &mut errors);
    match errors {
        None => actor_meta(input, &options),
        Some(errors) => fallback::actor_meta(input, &options, errors),
    }
}

/// `#[actions]`: the impl block and everything generated from it, or the impl block, the
/// errors and a stub `Actor` impl.
pub(crate) fn actions(args: &TokenStream, item: &ItemImpl) -> TokenStream {
    let model =
        ActorImpl::from_syn(item).and_then(|model| valid::actions(args, &model).map(|()| model));
    match model {
        Ok(model) => actor_impl(&model),
        Err(errors) => fallback::actor(item, errors),
    }
}

/// The actor's identity, initial state and settings, from `#[actor(...)]`.
fn actor_meta(input: &DeriveInput, options: &ActorOptions) -> TokenStream {
    let ty = &input.ident;
    let name = options
        .name
        .as_ref()
        .map_or_else(|| ty.to_string(), syn::LitStr::value);
    let state_version = options
        .state_version
        .as_ref()
        .map_or_else(|| quote!(1), |v| quote!(#v));
    let input_ty = options
        .input
        .as_ref()
        .map_or_else(|| quote!(()), |t| quote!(#t));
    let event_ty = options
        .event
        .as_ref()
        .map_or_else(|| quote!(()), |t| quote!(#t));
    let create_state = match (&options.create_state, &options.input) {
        (Some(path), Some(_)) => quote!(#path(input)),
        (Some(path), None) => quote!({
            let () = input;
            #path()
        }),
        (None, _) => quote!({
            let _ = input;
            <Self as ::core::default::Default>::default()
        }),
    };
    let migrate = options.migrate.as_ref().map(|path| {
        quote! {
            fn migrate(
                stored: ::actor_core::StoredState<'_>,
            ) -> ::core::result::Result<Self, ::actor_core::DecodeError> {
                #path(stored)
            }
        }
    });
    let mut config = quote!(::actor_core::__private::ActorConfig::default());
    if let Some(capacity) = &options.mailbox_capacity {
        config = quote!(#config.mailbox_capacity(#capacity));
    }
    if let Some(bytes) = &options.max_state_bytes {
        config = quote!(#config.max_state_bytes(#bytes));
    }
    if let Some(ms) = &options.sleep_after_ms {
        config = quote!(#config.sleep_after(::core::option::Option::Some(
            ::core::time::Duration::from_millis(#ms)
        )));
    }
    if options.never_sleep.is_some() {
        config = quote!(#config.sleep_after(::core::option::Option::None));
    }
    if let Some(restart) = &options.restart {
        let mut policy = quote!(::actor_core::__private::RestartPolicy::default());
        let ms = |v: &syn::Expr| quote!(::core::time::Duration::from_millis(#v));
        if let Some(v) = &restart.max_restarts {
            policy = quote!({ let mut p = #policy; p.max_restarts = #v; p });
        }
        if let Some(v) = &restart.window_ms {
            let d = ms(v);
            policy = quote!({ let mut p = #policy; p.window = #d; p });
        }
        if let Some(v) = &restart.initial_backoff_ms {
            let d = ms(v);
            policy = quote!({ let mut p = #policy; p.initial_backoff = #d; p });
        }
        if let Some(v) = &restart.max_backoff_ms {
            let d = ms(v);
            policy = quote!({ let mut p = #policy; p.max_backoff = #d; p });
        }
        config = quote!(#config.restart(#policy));
    }
    quote! {
        #[automatically_derived]
        impl ::actor_core::__private::ActorMeta for #ty {
            const NAME: &'static str = #name;
            const STATE_VERSION: u32 = #state_version;
            type Input = #input_ty;
            type Event = #event_ty;

            fn create_state(input: Self::Input) -> Self {
                #create_state
            }

            fn config() -> ::actor_core::__private::ActorConfig {
                #config
            }

            #migrate
        }
    }
}

/// The action enum, the reply and error enums, the `Actor` impl that dispatches into the
/// methods, and the typed handle trait.
#[allow(clippy::too_many_lines)] // one template, read top to bottom
fn actor_impl(model: &ActorImpl<'_>) -> TokenStream {
    let item = model.item;
    let actor = &model.actor;
    let action_enum = format_ident!("{}Action", actor);
    let reply_enum = format_ident!("{}Reply", actor);
    let error_enum = format_ident!("{}Error", actor);
    let handle_trait = format_ident!("{}Handle", actor);
    let p = quote!(::actor_core::__private);
    let fallible: Vec<&Action> = model.actions.iter().filter(|a| a.err.is_some()).collect();
    let names = model.actions.iter().map(|a| &a.name);
    // The names serde gives the fields: `type` for `r#type`.
    let arguments = model.actions.iter().map(|a| {
        let names = a.args.iter().map(|arg| arg.name.unraw().to_string());
        quote!(&[#(#names),*])
    });

    let action_def = define_action_enum(model, &action_enum);
    let reply_variants = model.actions.iter().map(|a| {
        let (variant, ok) = (&a.variant, &a.ok);
        let doc = format!("What `{}` returned.", a.name);
        quote!(#[doc = #doc] #variant(#ok))
    });
    let error_variants = fallible.iter().map(|a| {
        let variant = &a.variant;
        let err = a.err.as_ref();
        let doc = format!("The error `{}` returned.", a.name);
        quote!(#[doc = #doc] #variant(#err))
    });
    let error_def = {
        let doc = format!(
            "The errors of [`{actor}`]'s actions, one variant per action that returns `Result` (none if no action can fail)."
        );
        let display = if fallible.is_empty() {
            quote!(match *self {})
        } else {
            quote!(f.write_str("the action returned an error"))
        };
        quote! {
            #[doc = #doc]
            #[derive(::core::fmt::Debug, #p::serde::Serialize)]
            #[serde(crate = "::actor_core::__private::serde", untagged)]
            #[allow(unreachable_pub, private_bounds, private_interfaces)]
            pub enum #error_enum { #(#error_variants),* }

            #[automatically_derived]
            impl ::core::fmt::Display for #error_enum {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let _ = &f;
                    #display
                }
            }

            #[automatically_derived]
            impl ::std::error::Error for #error_enum {}
        }
    };

    let call = |a: &Action, ctx: TokenStream| {
        let method = a.method();
        let names = a.args.iter().map(|arg| &arg.name);
        let ctx_arg = a.ctx.as_ref().map(|c| {
            if c.mutable {
                quote!(#ctx,)
            } else {
                quote!(&*#ctx,)
            }
        });
        quote!(self.#method(#ctx_arg #(#names),*).await)
    };
    let pattern = |a: &Action| {
        let variant = &a.variant;
        let names = a.args.iter().map(|arg| &arg.name);
        quote!(#action_enum::#variant { #(#names),* })
    };
    let wrap = |a: &Action, value: TokenStream| {
        let variant = &a.variant;
        if a.err.is_some() {
            quote!(#value.map(#reply_enum::#variant).map_err(#error_enum::#variant))
        } else {
            quote!(::core::result::Result::Ok(#reply_enum::#variant(#value)))
        }
    };
    let handle_arms = model.actions.iter().map(|a| {
        let pat = pattern(a);
        let value = wrap(a, call(a, quote!(__ctx)));
        quote!(#pat => #value)
    });
    let read_only: Vec<&Action> = model.actions.iter().filter(|a| !a.mutates()).collect();
    let handle_read = (!read_only.is_empty()).then(|| {
        let arms = read_only.iter().map(|a| {
            let pat = pattern(a);
            let value = wrap(a, call(a, quote!(__ctx)));
            quote!(#pat => #p::ReadOutcome::Done(#value))
        });
        let rest = (read_only.len() < model.actions.len())
            .then(|| quote!(__other => #p::ReadOutcome::NeedsWrite(__other),));
        quote! {
            async fn handle_read(
                &self,
                __action: #action_enum,
                __ctx: &#p::Ctx<Self>,
            ) -> #p::ReadOutcome<Self> {
                let _ = __ctx;
                match __action {
                    #(#arms,)*
                    #rest
                }
            }
        }
    });

    let trait_methods = model.actions.iter().map(|a| {
        let method = a.method();
        let docs = &a.docs;
        let default_doc = docs.is_empty().then(|| {
            let doc = format!("Asks the actor to run `{method}` and waits for the durable reply.");
            quote!(#[doc = #doc])
        });
        let params = params(a);
        let (ok, err) = (&a.ok, typed_error(a));
        quote! {
            #(#docs)*
            #default_doc
            fn #method(&self, #(#params),*)
                -> impl ::core::future::Future<Output = ::core::result::Result<#ok, #p::AskError<#err>>> + ::core::marker::Send;
        }
    });
    let trait_impls = model.actions.iter().map(|a| {
        let method = a.method();
        let variant = &a.variant;
        let params = params(a);
        let (ok, err) = (&a.ok, typed_error(a));
        let construct = pattern(a);
        // One arm each for the reply and the error of this action: the runtime answers an
        // action with its own variant, so any other one is unreachable (and, for an actor with
        // a single action, a pattern rustc knows cannot match).
        let map_error = if a.err.is_some() {
            quote!(|e| match e {
                #error_enum::#variant(e) => e,
                #[allow(unreachable_patterns)]
                _ => ::core::unreachable!("an error of another action"),
            })
        } else if fallible.is_empty() {
            quote!(|e| match e {})
        } else {
            quote!(|_| ::core::unreachable!("an error of another action"))
        };
        quote! {
            async fn #method(&self, #(#params),*) -> ::core::result::Result<#ok, #p::AskError<#err>> {
                match self.ask(#construct).await {
                    ::core::result::Result::Ok(#reply_enum::#variant(value)) => ::core::result::Result::Ok(value),
                    #[allow(unreachable_patterns)]
                    ::core::result::Result::Ok(_) => ::core::unreachable!("a reply to another action"),
                    ::core::result::Result::Err(error) => ::core::result::Result::Err(error.map_action(#map_error)),
                }
            }
        }
    });

    let remote_impl = remote_impl(model, &handle_trait, &action_enum);

    let hook_fns = model.hooks.iter().map(|h| {
        let name = h.name();
        let (receiver, ctx_ty) = if h.mutates {
            (quote!(&mut self), quote!(&mut #p::Ctx<Self>))
        } else {
            (quote!(&self), quote!(&#p::Ctx<Self>))
        };
        let arg = h.takes_ctx.then(|| quote!(__ctx));
        quote! {
            async fn #name(#receiver, __ctx: #ctx_ty) {
                let _ = &__ctx;
                #[allow(clippy::unused_unit)]
                Self::#name(self, #arg).await
            }
        }
    });
    let reply_doc = format!("What [`{actor}`]'s actions return, one variant per action.");
    let trait_doc = format!(
        "Typed calls to a [`{actor}`] actor: one method per action, on its `Handle`, and on a `Remote` of it when the action's arguments, replies and errors are serde both ways."
    );
    // Actions must be `async` for the runtime, whether or not their bodies await.
    let mut item = item.clone();
    for impl_item in &mut item.items {
        if let syn::ImplItem::Fn(f) = impl_item
            && (!matches!(f.vis, syn::Visibility::Inherited)
                || model.hooks.iter().any(|h| *h.name() == f.sig.ident))
        {
            f.attrs
                .push(syn::parse_quote!(#[allow(clippy::unused_async)]));
        }
    }
    quote! {
        #item

        #action_def

        #[doc = #reply_doc]
        #[derive(#p::serde::Serialize)]
        #[serde(crate = "::actor_core::__private::serde", untagged)]
        #[allow(unreachable_pub, private_bounds, private_interfaces, missing_debug_implementations)]
        pub enum #reply_enum { #(#reply_variants),* }

        #error_def

        #[automatically_derived]
        impl #p::Actor for #actor {
            const NAME: &'static str = <Self as #p::ActorMeta>::NAME;
            const STATE_VERSION: u32 = <Self as #p::ActorMeta>::STATE_VERSION;
            const ACTIONS: &'static [&'static str] = &[#(#names),*];
            const ARGUMENTS: &'static [&'static [&'static str]] = &[#(#arguments),*];
            type Input = <Self as #p::ActorMeta>::Input;
            type Action = #action_enum;
            type Reply = #reply_enum;
            type Error = #error_enum;
            type Event = <Self as #p::ActorMeta>::Event;

            fn create_state(input: Self::Input) -> Self {
                <Self as #p::ActorMeta>::create_state(input)
            }

            fn encode_action(
                action: &#action_enum,
            ) -> ::core::result::Result<::std::vec::Vec<u8>, #p::EncodeError> {
                #[allow(unused_imports)]
                use #p::{EncodeRefused as _, EncodeViaSerde as _};
                (&#p::Stored(action)).encode_stored(<Self as #p::ActorMeta>::NAME)
            }

            fn decode_action(
                bytes: &[u8],
            ) -> ::core::result::Result<#action_enum, #p::DecodeError> {
                #[allow(unused_imports)]
                use #p::{DecodeRefused as _, DecodeViaSerde as _};
                (&#p::DecodeAs::<#action_enum>::new()).decode_stored(bytes, <Self as #p::ActorMeta>::NAME)
            }

            fn config() -> #p::ActorConfig {
                <Self as #p::ActorMeta>::config()
            }

            fn migrate(
                stored: ::actor_core::StoredState<'_>,
            ) -> ::core::result::Result<Self, ::actor_core::DecodeError> {
                <Self as #p::ActorMeta>::migrate(stored)
            }

            async fn handle(
                &mut self,
                __action: #action_enum,
                __ctx: &mut #p::Ctx<Self>,
            ) -> ::core::result::Result<#reply_enum, #error_enum> {
                let _ = &__ctx;
                match __action {
                    #(#handle_arms,)*
                }
            }

            #handle_read

            #(#hook_fns)*
        }

        #[doc = #trait_doc]
        #[allow(unreachable_pub, private_bounds, private_interfaces)]
        pub trait #handle_trait {
            #(#trait_methods)*
        }

        #[automatically_derived]
        impl #handle_trait for #p::Handle<#actor> {
            #(#trait_impls)*
        }

        #remote_impl
    }
}

/// The typed handle trait for a `Remote` of the actor: each method sends its action by name
/// and decodes the reply and the error from JSON.
///
/// The arguments must serialize and the replies and errors deserialize, which the `Handle`
/// impl does not need (a reply or error type may be `Serialize` only). So the impl states
/// them in its where clause, each as `for<'__actor> T: ...`, which rustc does not check
/// where it is written: an actor whose types are not serde still compiles, and only a call
/// through a `Remote` of it reports the missing impl.
fn remote_impl(model: &ActorImpl<'_>, handle_trait: &Ident, action_enum: &Ident) -> TokenStream {
    let p = quote!(::actor_core::__private);
    let actor = &model.actor;
    // Each reply and error type once, as written.
    let mut decoded: Vec<(&Type, String)> = Vec::new();
    for ty in model
        .actions
        .iter()
        .flat_map(|a| std::iter::once(&a.ok).chain(a.err.as_ref()))
    {
        let text = quote!(#ty).to_string();
        if decoded.iter().all(|(_, t)| *t != text) {
            decoded.push((ty, text));
        }
    }
    let bounds = decoded
        .iter()
        .map(|(ty, _)| quote!(for<'__actor> #ty: #p::serde::de::DeserializeOwned));
    let methods = model.actions.iter().map(|a| {
        let method = a.method();
        let params = params(a);
        let (ok, err) = (&a.ok, typed_error(a));
        let construct = {
            let variant = &a.variant;
            let names = a.args.iter().map(|arg| &arg.name);
            quote!(#action_enum::#variant { #(#names),* })
        };
        let call = if a.err.is_some() {
            quote!(#p::ask_action::<#actor, #ok, #err>(self, #construct))
        } else {
            quote!(#p::ask_infallible_action::<#actor, #ok>(self, #construct))
        };
        quote! {
            async fn #method(&self, #(#params),*) -> ::core::result::Result<#ok, #p::AskError<#err>> {
                #call.await
            }
        }
    });
    quote! {
        #[automatically_derived]
        #[allow(private_bounds)]
        impl #handle_trait for #p::Remote<#actor>
        where
            for<'__actor> #action_enum: #p::serde::Serialize,
            #(#bounds,)*
        {
            #(#methods)*
        }
    }
}

/// The action enum: one variant per action, holding its arguments, serde-tagged by the name
/// the action is called by.
///
/// An argument type serde cannot carry is one error, at the type, from the check emitted
/// beside the enum against actor-core's `ActionArgument` (whose blanket impl is marked
/// `do_not_recommend`, so rustc reports its message once rather than each missing serde
/// trait). The derives must not repeat the error from inside serde's code: their where clauses
/// name each argument type, so their bodies take it as serde, and `for<'__actor>` (on
/// `Serialize`; `Deserialize<'de>` has its own lifetime) keeps rustc from checking a bound on
/// a concrete type where it is written. Only code needing the enum to be serde (calls by name)
/// checks those bounds.
fn define_action_enum(model: &ActorImpl<'_>, action_enum: &Ident) -> TokenStream {
    let p = quote!(::actor_core::__private);
    let variants = model.actions.iter().map(|a| {
        let (variant, name) = (&a.variant, &a.name);
        let fields = a.args.iter().map(|arg| {
            let (name, ty) = (&arg.name, arg.ty());
            let doc = format!("The `{name}` argument.");
            quote!(#[doc = #doc] #name: #ty)
        });
        let doc = format!("Arguments of the `{name}` action.");
        quote!(#[doc = #doc] #[serde(rename = #name)] #variant { #(#fields),* })
    });
    // Each argument type once, as written.
    let mut types: Vec<(&Type, String)> = Vec::new();
    for ty in model.actions.iter().flat_map(|a| &a.args).map(Arg::ty) {
        let text = quote!(#ty).to_string();
        if types.iter().all(|(_, t)| *t != text) {
            types.push((ty, text));
        }
    }
    let serialize = types
        .iter()
        .map(|(_, ty)| format!("for<'__actor> {ty}: {p}::serde::Serialize"))
        .collect::<Vec<_>>()
        .join(", ");
    let deserialize = types
        .iter()
        .map(|(_, ty)| format!("{ty}: {p}::serde::Deserialize<'de>"))
        .collect::<Vec<_>>()
        .join(", ");
    let checks = types
        .iter()
        .map(|(ty, _)| quote_spanned!(ty.span()=> action_argument::<#ty>();));
    let doc = format!(
        "The actions of [`{}`], one variant per action, serializable so that actions can be stored, scheduled or called by name (`{{\"action_name\": {{\"arg\": value}}}}`).",
        model.actor
    );
    quote! {
        #[doc = #doc]
        #[derive(#p::serde::Serialize, #p::serde::Deserialize)]
        #[serde(
            crate = "::actor_core::__private::serde",
            deny_unknown_fields,
            bound(serialize = #serialize, deserialize = #deserialize)
        )]
        #[allow(unreachable_pub, private_bounds, private_interfaces, missing_debug_implementations)]
        pub enum #action_enum { #(#variants),* }

        const _: () = {
            const fn action_argument<T: #p::ActionArgument>() {}
            #(#checks)*
        };
    }
}

/// A typed handle method's parameters: the action's arguments, with their plain types.
fn params<'a>(a: &'a Action<'_>) -> impl Iterator<Item = TokenStream> + 'a {
    a.args.iter().map(|arg| {
        let (name, ty) = (&arg.name, arg.ty());
        quote!(#name: #ty)
    })
}

/// The error type a typed handle method reports in `AskError::Action`.
fn typed_error(a: &Action) -> Type {
    a.err
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::core::convert::Infallible))
}
