//! What the macros emit beside their errors: stubs of the impls they would have generated, so
//! that the code using the type does not pile spurious errors on the real one (as thiserror's
//! `fallback.rs` does). The stubs never run: the crate does not compile.
//!
//! A generic type gets no stub: it cannot be an actor, and a stub would need bounds that could
//! fail with errors of their own.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, ItemImpl, Type};

use crate::attr::ActorOptions;

/// `#[derive(Actor)]`: the errors, and an `ActorMeta` impl for `#[actions]` to build on. Its
/// `Input` is the `input` option when that one was read, so that code creating the actor
/// still type-checks.
pub(crate) fn actor_meta(
    input: &DeriveInput,
    options: &ActorOptions,
    errors: syn::Error,
) -> TokenStream {
    let mut out = errors.into_compile_error();
    if input.generics.params.is_empty() {
        let ty = &input.ident;
        let name = ty.to_string();
        let input_ty = options
            .input
            .as_ref()
            .map_or_else(|| quote!(()), |t| quote!(#t));
        let event_ty = options
            .event
            .as_ref()
            .map_or_else(|| quote!(()), |t| quote!(#t));
        out.extend(quote! {
            #[automatically_derived]
            impl ::actor_core::__private::ActorMeta for #ty {
                const NAME: &'static str = #name;
                const STATE_VERSION: u32 = 1;
                type Input = #input_ty;
                type Event = #event_ty;

                fn create_state(_: Self::Input) -> Self {
                    ::core::unreachable!()
                }

                fn config() -> ::actor_core::__private::ActorConfig {
                    ::core::unreachable!()
                }
            }
        });
    }
    out
}

/// `#[actions]`: the impl block as written, the errors, and an `Actor` impl with no actions,
/// so that code naming `Ctx<Self>` or `Handle<Self>` still type-checks.
pub(crate) fn actor(item: &ItemImpl, errors: syn::Error) -> TokenStream {
    let mut out = quote!(#item);
    out.extend(errors.into_compile_error());
    let named = matches!(&*item.self_ty, Type::Path(p) if p.qself.is_none());
    if named && item.generics.params.is_empty() {
        let ty = &item.self_ty;
        let p = quote!(::actor_core::__private);
        out.extend(quote! {
            #[automatically_derived]
            impl #p::Actor for #ty {
                const NAME: &'static str = <Self as #p::ActorMeta>::NAME;
                type Input = <Self as #p::ActorMeta>::Input;
                type Action = ::core::convert::Infallible;
                type Reply = ();
                type Error = ::core::convert::Infallible;
                type Event = <Self as #p::ActorMeta>::Event;

                fn create_state(input: Self::Input) -> Self {
                    <Self as #p::ActorMeta>::create_state(input)
                }

                async fn handle(
                    &mut self,
                    action: ::core::convert::Infallible,
                    _: &mut #p::Ctx<Self>,
                ) -> ::core::result::Result<(), ::core::convert::Infallible> {
                    match action {}
                }
            }
        });
    }
    out
}

/// `#[derive(Env)]`: the errors, and an `Env` impl with no bindings.
pub(crate) fn env(input: &DeriveInput, errors: syn::Error) -> TokenStream {
    let mut out = errors.into_compile_error();
    if input.generics.params.is_empty() {
        let ty = &input.ident;
        out.extend(quote! {
            #[automatically_derived]
            impl ::actor_core::Env for #ty {
                const BINDINGS: &'static [&'static str] = &[];

                fn from_bindings(
                    _: &mut dyn ::core::ops::FnMut(&str) -> ::core::result::Result<::actor_core::KvStore, ::actor_core::BindingError>,
                ) -> ::core::result::Result<Self, ::actor_core::BindingError> {
                    ::core::unreachable!()
                }
            }
        });
    }
    out
}
