//! Expansion: the struct with the derives it needs, an impl of the runtime's
//! `Persisted` trait, and thin inherent accessors that call generic runtime code.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Item, ItemStruct};

use crate::args::Args;
use crate::errors::Errors;
use crate::model::{Kind, Model};

/// The whole attribute: parse, validate, expand.
pub fn persisted(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(err) => {
            let err = err.to_compile_error();
            return quote!(#input #err);
        }
    };
    let mut errors = Errors::default();
    let args = Args::parse(args, &mut errors);
    let model = Model::build(args, item.clone(), &mut errors);
    let errors = errors.into_compile_errors();
    match (model, errors) {
        (Some(model), None) => expand(&model),
        // Still emit the expansion when the model could be built, so that one
        // mistake in the attribute does not cascade into errors at every use.
        (Some(model), Some(errors)) => {
            let expanded = expand(&model);
            quote!(#expanded #errors)
        }
        (None, errors) => quote!(#item #errors),
    }
}

fn expand(model: &Model) -> TokenStream {
    let item = with_derives(&model.item, model.tools.is_some());
    let spec_impl = spec_impl(model);
    let seal = seal_impl(model);
    let accessors = accessors(model);
    quote! {
        #item
        #spec_impl
        #seal
        #accessors
    }
}

/// The impl of the hidden supertrait that seals `Persisted`: only this
/// attribute implements it, so a hand-written `impl Persisted` does not compile.
fn seal_impl(model: &Model) -> TokenStream {
    let ident = &model.item.ident;
    quote!(impl ::mcp_persist::__private::Sealed for #ident {})
}

/// Whether `#[derive(...)]` on the item already names a trait called `name`.
fn derives(item: &ItemStruct, name: &str) -> bool {
    item.attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|meta| {
                found |= meta.path.segments.last().is_some_and(|s| s.ident == name);
                Ok(())
            });
            found
        })
}

/// The struct with serde's derives added where the user has not written them.
fn with_derives(item: &ItemStruct, tools: bool) -> TokenStream {
    let mut added = Vec::new();
    let mut schemars_attr = None;
    if tools && !derives(item, "JsonSchema") {
        added.push(quote!(::mcp_persist::__private::schemars::JsonSchema));
        schemars_attr = Some(quote!(#[schemars(crate = "::mcp_persist::__private::schemars")]));
    }
    if !derives(item, "Serialize") {
        added.push(quote!(::mcp_persist::__private::serde::Serialize));
    }
    let mut serde_attr = None;
    if !derives(item, "Deserialize") {
        added.push(quote!(::mcp_persist::__private::serde::Deserialize));
    }
    if added.len() > usize::from(schemars_attr.is_some()) {
        serde_attr = Some(quote!(#[serde(crate = "::mcp_persist::__private::serde")]));
    }
    if added.is_empty() {
        return quote!(#item);
    }
    let ItemStruct {
        attrs,
        vis,
        struct_token,
        ident,
        generics,
        fields,
        semi_token,
    } = item;
    quote! {
        #[derive(#(#added),*)]
        #serde_attr
        #schemars_attr
        #(#attrs)*
        #vis #struct_token #ident #generics #fields #semi_token
    }
}

fn spec_impl(model: &Model) -> TokenStream {
    let ident = &model.item.ident;
    let type_name = ident.to_string();
    let namespace = &model.namespace;
    let key = &model.key;
    let params: Vec<String> = model
        .key_fields
        .iter()
        .map(|(f, _)| f.to_string())
        .collect();
    // Each key field as `&dyn Display`, spanned on its type so that a type
    // that cannot be in a key is reported on the field.
    let key_parts = model.key_fields.iter().map(|(field, ty)| {
        quote_spanned!(ty.span()=> ::mcp_persist::__private::KeyPart::as_key_part(&self.#field))
    });
    let version = model.version;
    let doc = &model.doc;
    let kind = match &model.kind {
        Kind::Singleton => quote!(::mcp_persist::Kind::Singleton),
        Kind::Keyed => quote!(::mcp_persist::Kind::Keyed),
        Kind::List { max_len } => {
            let max_len = option(max_len.map(|n| quote!(#n)));
            quote!(::mcp_persist::Kind::List { max_len: #max_len })
        }
    };
    let migrate = option(model.migrate.as_ref().map(|path| {
        quote! {
            |value, version| #path(value, version).map_err(|e| ::std::string::ToString::to_string(&e))
        }
    }));
    let ttl = option(
        model
            .ttl_secs
            .map(|s| quote!(::core::time::Duration::from_secs(#s))),
    );
    quote! {
        impl ::mcp_persist::Persisted for #ident {
            const SPEC: ::mcp_persist::RecordSpec = ::mcp_persist::RecordSpec {
                type_name: #type_name,
                namespace: #namespace,
                key: #key,
                key_params: &[#(#params),*],
                kind: #kind,
                ttl: #ttl,
                version: #version,
                doc: #doc,
                migrate: #migrate,
            };

            fn record_key(&self) -> ::mcp_persist::Result<::mcp_persist::RecordKey> {
                ::mcp_persist::__private::records::key_of::<Self>(&[#(#key_parts),*])
            }
        }
    }
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn accessors(model: &Model) -> TokenStream {
    let ident = &model.item.ident;
    let vis = &model.item.vis;
    // The store parameter must not clash with a key field's name.
    let store = if model.key_fields.iter().any(|(f, _)| f == "store") {
        Ident::new("store_", Span::call_site())
    } else {
        Ident::new("store", Span::call_site())
    };
    let body = match model.kind {
        Kind::Singleton | Kind::Keyed => record_accessors(model, vis, &store),
        Kind::List { .. } => list_accessors(vis, &store),
    };
    let tools = model
        .tools
        .as_ref()
        .map(|(ops, prefix)| tool_accessors(model, vis, &store, ops, prefix));
    quote! {
        #[allow(dead_code)]
        impl #ident {
            #body
            #tools
        }
    }
}

/// `tools` and `tools_with`: the MCP tools of the type, as an rmcp router.
fn tool_accessors(
    model: &Model,
    vis: &syn::Visibility,
    store: &Ident,
    ops: &[Ident],
    prefix: &str,
) -> TokenStream {
    let name = crate::model::snake_case(&model.item.ident.to_string());
    let router = quote!(::mcp_persist::rmcp::handler::server::router::tool::ToolRouter<S>);
    let t = quote!(::mcp_persist::tools);
    let p = quote!(::mcp_persist::__private);
    quote! {
        /// The MCP tools of this type, to merge into a server's router with `+`.
        /// The routes capture `store`; see `tools_with` for the limits they enforce.
        #vis fn tools<S: ::core::marker::Send + ::core::marker::Sync + 'static>(#store: &::mcp_persist::Store) -> #router {
            Self::tools_with(#store, #t::ToolConfig::default())
        }

        /// The MCP tools of this type, with the given limits.
        #vis fn tools_with<S: ::core::marker::Send + ::core::marker::Sync + 'static>(
            #store: &::mcp_persist::Store,
            config: #t::ToolConfig,
        ) -> #router {
            #p::router::<Self, S>(
                #store,
                &#p::ToolSet { name: #name, prefix: #prefix, ops: &[#(#p::ToolOp::#ops),*] },
                config,
            )
        }
    }
}

/// Accessors of singletons and keyed records.
fn record_accessors(model: &Model, vis: &syn::Visibility, store: &Ident) -> TokenStream {
    let p = quote!(::mcp_persist::__private::records);
    let r = quote!(::mcp_persist::Result);
    let st = quote!(::mcp_persist::Store);
    let fut = quote!(::core::future::Future);
    let fields: Vec<&Ident> = model.key_fields.iter().map(|(f, _)| f).collect();
    // Sync accessors take `impl Display`; async ones name their generics
    // so that the returned future can say precisely what it captures.
    let sync_params = quote!(#(#fields: impl ::core::fmt::Display,)*);
    let generics: Vec<Ident> = (0..fields.len()).map(|i| format_ident!("K{}", i)).collect();
    let async_params = quote!(#(#fields: #generics,)*);
    let async_bounds = quote!(#(#generics: ::core::fmt::Display,)*);
    let args = quote!(&[#(&#fields),*]);
    let which = if fields.is_empty() {
        "the record".to_owned()
    } else {
        format!(
            "the record with key fields {}",
            fields
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let load_doc = format!("Loads {which}, if stored and not expired.");
    let meta_doc = format!("Loads {which} with its metadata (timestamps, expiry, version).");
    let exists_doc = format!("Whether {which} is stored and not expired.");
    let update_doc = format!(
        "Atomically applies `f` to {which} and stores the result (one write transaction: no \
         lost updates between threads or processes). Returns the new value, or `None` if there \
         is no record (nothing is written)."
    );
    // Said on every accessor that takes an update closure (issue 11, item 11).
    let closure_doc = "`f` may run more than once for one call (the write is tried again after \
         the store's map grew) and runs while the store's writes wait for it: keep it quick and \
         free of side effects, and make it compute the same change from the same value. The \
         record keeps its own expiry policy, re-armed from this write (see `Ttl`).";
    let delete_doc = format!("Deletes {which}. Returns whether a live record was deleted.");
    let mut out = quote! {
        #[doc = #load_doc]
        #vis fn load(#store: &#st, #sync_params) -> #r<::core::option::Option<Self>> {
            #p::load::<Self>(#store, #args)
        }

        #[doc = #meta_doc]
        #vis fn load_with_meta(#store: &#st, #sync_params)
            -> #r<::core::option::Option<::mcp_persist::Stored<Self>>>
        {
            #p::load_stored::<Self>(#store, &#p::key_of::<Self>(#args)?)
        }

        #[doc = #exists_doc]
        #vis fn exists(#store: &#st, #sync_params) -> #r<bool> {
            #p::exists::<Self>(#store, #args)
        }

        /// Saves this value at its key (with the type's `ttl`, if any). The
        /// future resolves once the write is durable.
        #vis fn save<'s>(&self, #store: &'s #st) -> impl #fut<Output = #r<()>> + Send + use<'s> {
            #p::save::<Self>(#store, self, ::mcp_persist::Ttl::Default)
        }

        /// Blocking version of `save`.
        #vis fn save_blocking(&self, #store: &#st) -> #r<()> {
            #p::save_blocking::<Self>(#store, self, ::mcp_persist::Ttl::Default)
        }

        /// Saves this value with a time to live that overrides the type's `ttl`.
        #vis fn save_with_ttl<'s>(&self, #store: &'s #st, ttl: ::mcp_persist::Ttl)
            -> impl #fut<Output = #r<()>> + Send + use<'s>
        {
            #p::save::<Self>(#store, self, ttl)
        }

        /// Blocking version of `save_with_ttl`.
        #vis fn save_with_ttl_blocking(&self, #store: &#st, ttl: ::mcp_persist::Ttl) -> #r<()> {
            #p::save_blocking::<Self>(#store, self, ttl)
        }

        #[doc = #update_doc]
        ///
        #[doc = #closure_doc]
        #vis fn update<'s, #async_bounds F>(#store: &'s #st, #async_params f: F)
            -> impl #fut<Output = #r<::core::option::Option<Self>>> + Send + use<'s, #(#generics,)* F>
        where
            F: FnMut(&mut Self) + Send + 'static,
        {
            #p::update::<Self, F>(#store, #args, f)
        }

        /// Blocking version of `update`.
        ///
        #[doc = #closure_doc]
        #vis fn update_blocking<F>(#store: &#st, #sync_params f: F) -> #r<::core::option::Option<Self>>
        where
            F: FnMut(&mut Self) + Send + 'static,
        {
            #p::update_blocking::<Self, F>(#store, #args, f)
        }

        /// Like `update`, but starts from `initial` when no record is stored at
        /// `initial`'s key; `f` is applied in both cases. Returns the stored value.
        ///
        #[doc = #closure_doc]
        #vis fn update_or_insert<'s, F>(#store: &'s #st, initial: &Self, f: F)
            -> impl #fut<Output = #r<Self>> + Send + use<'s, F>
        where
            F: FnMut(&mut Self) + Send + 'static,
        {
            #p::update_or_insert::<Self, F>(#store, initial, f)
        }

        /// Blocking version of `update_or_insert`.
        ///
        #[doc = #closure_doc]
        #vis fn update_or_insert_blocking<F>(#store: &#st, initial: &Self, f: F) -> #r<Self>
        where
            F: FnMut(&mut Self) + Send + 'static,
        {
            #p::update_or_insert_blocking::<Self, F>(#store, initial, f)
        }

        #[doc = #delete_doc]
        #vis fn delete<'s, #async_bounds>(#store: &'s #st, #async_params)
            -> impl #fut<Output = #r<bool>> + Send + use<'s, #(#generics),*>
        {
            #p::delete::<Self>(#store, #args)
        }

        /// Blocking version of `delete`.
        #vis fn delete_blocking(#store: &#st, #sync_params) -> #r<bool> {
            #p::delete_blocking::<Self>(#store, #args)
        }
    };
    if fields.is_empty() {
        out.extend(quote! {
            /// Loads the record, or the type's default if none is stored.
            #vis fn load_or_default(#store: &#st) -> #r<Self>
            where
                for<'a> Self: ::core::default::Default,
            {
                ::core::result::Result::Ok(Self::load(#store)?.unwrap_or_default())
            }

            /// Like `update`, starting from the type's default when no record
            /// is stored. Returns the stored value.
            ///
            #[doc = #closure_doc]
            #vis fn update_or_default<'s, F>(#store: &'s #st, f: F)
                -> impl #fut<Output = #r<Self>> + Send + use<'s, F>
            where
                F: FnMut(&mut Self) + Send + 'static,
                for<'a> Self: ::core::default::Default,
            {
                #p::update_or_insert::<Self, F>(#store, &Self::default(), f)
            }

            /// Blocking version of `update_or_default`.
            ///
            #[doc = #closure_doc]
            #vis fn update_or_default_blocking<F>(#store: &#st, f: F) -> #r<Self>
            where
                F: FnMut(&mut Self) + Send + 'static,
                for<'a> Self: ::core::default::Default,
            {
                #p::update_or_insert_blocking::<Self, F>(#store, &Self::default(), f)
            }
        });
    } else {
        out.extend(quote! {
            /// Every stored, unexpired record of this type, in key order.
            #vis fn list(#store: &#st) -> #r<::std::vec::Vec<Self>> {
                #p::list_all::<Self>(#store)
            }

            /// One page of records in key order, filtered by a prefix of the
            /// first key field, with their metadata and a cursor for the next page.
            #vis fn list_page(#store: &#st, options: &::mcp_persist::ListOptions)
                -> #r<::mcp_persist::Page<Self>>
            {
                #p::list::<Self>(#store, options)
            }
        });
    }
    out
}

/// Accessors of newest-first lists.
fn list_accessors(vis: &syn::Visibility, store: &Ident) -> TokenStream {
    let p = quote!(::mcp_persist::__private::list);
    let r = quote!(::mcp_persist::Result);
    let st = quote!(::mcp_persist::Store);
    let fut = quote!(::core::future::Future);
    quote! {
        /// Adds this value as the newest item, dropping the oldest beyond
        /// `max_len`, atomically. The future resolves once the write is durable.
        #vis fn push<'s>(&self, #store: &'s #st) -> impl #fut<Output = #r<()>> + Send + use<'s> {
            #p::push::<Self>(#store, self, ::mcp_persist::Ttl::Default)
        }

        /// Blocking version of `push`.
        #vis fn push_blocking(&self, #store: &#st) -> #r<()> {
            #p::push_blocking::<Self>(#store, self, ::mcp_persist::Ttl::Default)
        }

        /// Up to `limit` items, newest first (expired items are skipped).
        #vis fn recent(#store: &#st, limit: usize) -> #r<::std::vec::Vec<Self>> {
            #p::recent::<Self>(#store, limit)
        }

        /// Up to `limit` items, newest first, with their metadata.
        #vis fn recent_with_meta(#store: &#st, limit: usize)
            -> #r<::std::vec::Vec<::mcp_persist::Stored<Self>>>
        {
            #p::recent_stored::<Self>(#store, limit)
        }

        /// Deletes every item; returns how many live items there were.
        #vis fn clear<'s>(#store: &'s #st) -> impl #fut<Output = #r<usize>> + Send + use<'s> {
            #p::clear::<Self>(#store)
        }

        /// Blocking version of `clear`.
        #vis fn clear_blocking(#store: &#st) -> #r<usize> {
            #p::clear_blocking::<Self>(#store)
        }
    }
}
