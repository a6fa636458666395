//! `#[derive(Env)]`: a struct whose fields are key-value store bindings.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, Lit, Meta};

use crate::fallback;
use crate::valid::combine;

/// The `Env` impl, or the errors and a stub of it.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    try_derive(input).unwrap_or_else(|errors| fallback::env(input, errors))
}

/// Reads the fields (each a binding: its name in upper case, or `#[binding = "NAME"]`) and
/// generates the `Env` impl.
fn try_derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let ty = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(Env)] is for structs whose fields are store bindings",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new(
            data.fields.span(),
            "#[derive(Env)] needs named fields, one per binding",
        ));
    };
    let mut errors = None;
    let mut names = Vec::new();
    let mut inits = Vec::new();
    for field in &fields.named {
        let Some(ident) = &field.ident else { continue };
        let mut binding = ident.to_string().trim_start_matches("r#").to_uppercase();
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("binding")) {
            match &attr.meta {
                Meta::NameValue(nv) => match &nv.value {
                    Expr::Lit(lit) => match &lit.lit {
                        Lit::Str(s) => binding = s.value(),
                        other => combine(
                            &mut errors,
                            syn::Error::new(
                                other.span(),
                                "expected a string: #[binding = \"NAME\"]",
                            ),
                        ),
                    },
                    other => combine(
                        &mut errors,
                        syn::Error::new(other.span(), "expected a string: #[binding = \"NAME\"]"),
                    ),
                },
                other => combine(
                    &mut errors,
                    syn::Error::new(other.span(), "expected #[binding = \"NAME\"]"),
                ),
            }
        }
        inits.push(quote!(#ident: store(#binding)?));
        names.push(binding);
    }
    if let Some(e) = errors {
        return Err(e);
    }
    Ok(quote! {
        #[automatically_derived]
        impl ::actor_core::Env for #ty {
            const BINDINGS: &'static [&'static str] = &[#(#names),*];

            fn from_bindings(
                store: &mut dyn ::core::ops::FnMut(&str) -> ::core::result::Result<::actor_core::KvStore, ::actor_core::BindingError>,
            ) -> ::core::result::Result<Self, ::actor_core::BindingError> {
                ::core::result::Result::Ok(Self { #(#inits),* })
            }
        }
    })
}
