//! Expansion: the struct with the derives it needs, an impl of the runtime's
//! `Persisted` trait, and thin inherent accessors that call generic runtime code.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
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
    let pieces = key_pieces(&key.value());
    let version = model.version;
    let doc = &model.doc;
    let kind = match &model.kind {
        Kind::Singleton => quote!(::mcp_persist::__private::Kind::Singleton),
        Kind::Keyed => quote!(::mcp_persist::__private::Kind::Keyed),
        Kind::List { max_len } => {
            let max_len = option(max_len.map(|n| quote!(#n)));
            quote!(::mcp_persist::__private::Kind::List { max_len: #max_len })
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
    let scope = if model.scoped {
        quote!(::mcp_persist::__private::Scoping::User)
    } else {
        quote!(::mcp_persist::__private::Scoping::Shared)
    };
    quote! {
        impl ::mcp_persist::Persisted for #ident {
            const SPEC: ::mcp_persist::__private::RecordSpec = ::mcp_persist::__private::RecordSpec {
                type_name: #type_name,
                namespace: #namespace,
                key: #key,
                key_pieces: &[#(#pieces),*],
                key_params: &[#(#params),*],
                kind: #kind,
                ttl: #ttl,
                version: #version,
                doc: #doc,
                migrate: #migrate,
                scope: #scope,
            };

            fn record_key(
                &self,
                scope: ::core::option::Option<&::mcp_persist::Scope>,
            ) -> ::mcp_persist::Result<::mcp_persist::RecordKey> {
                ::mcp_persist::__private::key_of::<Self>(scope, &[#(#key_parts),*])
            }
        }
    }
}

/// The key template split into `KeyPiece`s, so that the runtime never parses
/// it: `notes/{user}/{id}` is `Lit("notes/"), Field("user"), Lit("/"),
/// Field("id")`. The template was checked (balanced braces, placeholders
/// separated by text); an unbalanced brace left over is a literal.
fn key_pieces(template: &str) -> Vec<TokenStream> {
    let piece = quote!(::mcp_persist::__private::KeyPiece);
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let field = rest
            .strip_prefix('{')
            .and_then(|after| after.split_once('}'))
            .filter(|(name, _)| !name.contains('{'));
        if let Some((name, after)) = field {
            out.push(quote!(#piece::Field(#name)));
            rest = after;
            continue;
        }
        // A literal runs to the next `{` after its first character.
        let first = rest.chars().next().map_or(0, char::len_utf8);
        let end = rest[first..].find('{').map_or(rest.len(), |i| first + i);
        let lit = &rest[..end];
        out.push(quote!(#piece::Lit(#lit)));
        rest = &rest[end..];
    }
    out
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
    // A per-user type's accessors take the user's handle, so that leaving
    // the user out does not compile.
    let st = if model.scoped {
        quote!(::mcp_persist::ScopedStore)
    } else {
        quote!(::mcp_persist::Store)
    };
    let body = match model.kind {
        Kind::Singleton | Kind::Keyed => record_accessors(model, vis, &store, &st),
        Kind::List { .. } => list_accessors(vis, &store, &st),
    };
    let tools = model
        .tools
        .as_ref()
        .map(|(ops, prefix)| tool_accessors(model, vis, &store, ops, prefix));
    let resources = model.resources.then(|| {
        quote! {
            /// The records of this type as MCP resources, to merge with `+`
            /// and serve (`ToolServer::with_resources`, `serve_resources!`).
            #vis fn resources(#store: &::mcp_persist::Store) -> ::mcp_persist::tools::Resources {
                ::mcp_persist::tools::Resources::of::<Self>(#store)
            }
        }
    });
    let watch = quote! {
        /// Watches every change (put, delete, expiry) of this type's records,
        /// by any process on the store, from now on (see `Store::watch`).
        #vis fn watch(#store: &#st) -> ::mcp_persist::Result<::mcp_persist::Watcher> {
            ::mcp_persist::__private::accessors::watch::<Self>(#store.into())
        }
    };
    quote! {
        #[allow(dead_code)]
        impl #ident {
            #body
            #watch
            #tools
            #resources
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

/// Accessors of singletons and keyed records. Each returns an operation
/// (`::mcp_persist::op`): awaited, or run with `.blocking()`.
fn record_accessors(
    model: &Model,
    vis: &syn::Visibility,
    store: &Ident,
    st: &TokenStream,
) -> TokenStream {
    let a = quote!(::mcp_persist::__private::accessors);
    let op = quote!(::mcp_persist::op);
    let fields: Vec<&Ident> = model.key_fields.iter().map(|(f, _)| f).collect();
    let params = quote!(#(#fields: impl ::core::fmt::Display,)*);
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
    let run = "`.await` it, or run it with `.blocking()`.";
    let load_doc = format!("Loads {which}, if stored and not expired. {run}");
    let meta_doc = format!("Loads {which} with its metadata (timestamps, expiry, version). {run}");
    let exists_doc = format!("Whether {which} is stored and not expired. {run}");
    let update_doc = format!(
        "Atomically applies `f` to {which} and stores the result (one write transaction: no \
         lost updates between threads or processes). Returns the new value, or `None` if there \
         is no record (nothing is written). {run}"
    );
    // Said on every accessor that takes an update closure (issue 11, item 11).
    let closure_doc = "`f` may run more than once for one call (the write is tried again after \
         the store's map grew) and runs while the store's writes wait for it: keep it quick and \
         free of side effects, and make it compute the same change from the same value. The \
         record keeps its own expiry policy, re-armed from this write (see `Ttl`). A read of the store \
         inside `f` (through a `Store` clone it captured, say, loading another record) sees the \
         last committed state: not the writes that ran before it in the same batch of writes, nor \
         this update's own change; read what you need before calling, or keep values that must \
         change together in one record.";
    let delete_doc = format!("Deletes {which}. Returns whether a live record was deleted. {run}");
    let mut out = quote! {
        #[doc = #load_doc]
        #vis fn load(#store: &#st, #params) -> #op::Read<'_, ::core::option::Option<Self>> {
            #a::load::<Self>(#store.into(), #args)
        }

        #[doc = #meta_doc]
        #vis fn load_with_meta(#store: &#st, #params)
            -> #op::Read<'_, ::core::option::Option<::mcp_persist::Stored<Self>>>
        {
            #a::load_with_meta::<Self>(#store.into(), #args)
        }

        #[doc = #exists_doc]
        #vis fn exists(#store: &#st, #params) -> #op::Read<'_, bool> {
            #a::exists::<Self>(#store.into(), #args)
        }

        /// Saves this value at its key, with the type's `ttl` unless the
        /// operation's `.ttl(..)` chooses another. `.await` it, or run it with
        /// `.blocking()`; either returns once the write is durable.
        #vis fn save<'s>(&'s self, #store: &'s #st) -> #op::Save<'s, Self> {
            #a::save::<Self>(#store.into(), self)
        }

        #[doc = #update_doc]
        ///
        #[doc = #closure_doc]
        #vis fn update<F>(#store: &#st, #params f: F) -> #op::Write<'_, ::core::option::Option<Self>>
        where
            F: FnMut(&mut Self) + Send + 'static,
        {
            #a::update::<Self, F>(#store.into(), #args, f)
        }

        /// Like `update`, but starts from `initial` when no record is stored at
        /// `initial`'s key; `f` is applied in both cases. Returns the stored value.
        ///
        #[doc = #closure_doc]
        #vis fn update_or_insert<'s, F>(#store: &'s #st, initial: &Self, f: F) -> #op::Write<'s, Self>
        where
            F: FnMut(&mut Self) + Send + 'static,
        {
            #a::update_or_insert::<Self, F>(#store.into(), initial, f)
        }

        #[doc = #delete_doc]
        #vis fn delete(#store: &#st, #params) -> #op::Write<'_, bool> {
            #a::delete::<Self>(#store.into(), #args)
        }
    };
    if fields.is_empty() {
        out.extend(quote! {
            /// Loads the record, or the type's default if none is stored.
            /// `.await` it, or run it with `.blocking()`.
            #vis fn load_or_default(#store: &#st) -> #op::Read<'_, Self>
            where
                for<'a> Self: ::core::default::Default,
            {
                #a::load_or_default::<Self>(#store.into(), &[])
            }

            /// Like `update`, starting from the type's default when no record
            /// is stored. Returns the stored value.
            ///
            #[doc = #closure_doc]
            #vis fn update_or_default<F>(#store: &#st, f: F) -> #op::Write<'_, Self>
            where
                F: FnMut(&mut Self) + Send + 'static,
                for<'a> Self: ::core::default::Default,
            {
                #a::update_or_default::<Self, F>(#store.into(), f)
            }
        });
    } else {
        out.extend(quote! {
            /// Every stored, unexpired record of this type, in key order.
            /// `.await` it, or run it with `.blocking()`.
            #vis fn list(#store: &#st) -> #op::Read<'_, ::std::vec::Vec<Self>> {
                #a::list::<Self>(#store.into())
            }

            /// One page of records in key order, filtered by a prefix of the
            /// first key field, with their metadata and a cursor for the next
            /// page. `.await` it, or run it with `.blocking()`.
            #vis fn list_page(#store: &#st, options: ::mcp_persist::ListOptions)
                -> #op::Read<'_, ::mcp_persist::Page<Self>>
            {
                #a::list_page::<Self>(#store.into(), options)
            }
        });
    }
    out
}

/// Accessors of newest-first lists.
fn list_accessors(vis: &syn::Visibility, store: &Ident, st: &TokenStream) -> TokenStream {
    let a = quote!(::mcp_persist::__private::accessors);
    let op = quote!(::mcp_persist::op);
    quote! {
        /// Adds this value as the newest item, dropping the oldest beyond
        /// `max_len`, atomically; with the type's `ttl` unless the operation's
        /// `.ttl(..)` chooses another. `.await` it, or run it with
        /// `.blocking()`; either returns once the write is durable.
        #vis fn push<'s>(&'s self, #store: &'s #st) -> #op::Save<'s, Self> {
            #a::save::<Self>(#store.into(), self)
        }

        /// Up to `limit` items, newest first (expired items are skipped).
        /// `.await` it, or run it with `.blocking()`.
        #vis fn recent(#store: &#st, limit: usize) -> #op::Read<'_, ::std::vec::Vec<Self>> {
            #a::recent::<Self>(#store.into(), limit)
        }

        /// Up to `limit` items, newest first, with their metadata.
        /// `.await` it, or run it with `.blocking()`.
        #vis fn recent_with_meta(#store: &#st, limit: usize)
            -> #op::Read<'_, ::std::vec::Vec<::mcp_persist::Stored<Self>>>
        {
            #a::recent_with_meta::<Self>(#store.into(), limit)
        }

        /// Deletes every item; returns how many live items there were.
        /// `.await` it, or run it with `.blocking()`.
        #vis fn clear(#store: &#st) -> #op::Write<'_, usize> {
            #a::clear::<Self>(#store.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::key_pieces;

    fn pieces(template: &str) -> String {
        key_pieces(template)
            .iter()
            .map(|p| {
                p.to_string()
                    .replace(":: mcp_persist :: __private :: KeyPiece :: ", "")
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn templates_are_split_into_literals_and_fields() {
        assert_eq!(pieces("preferences"), r#"Lit ("preferences")"#);
        assert_eq!(
            pieces("notes/{user}/{id}"),
            r#"Lit ("notes/") Field ("user") Lit ("/") Field ("id")"#
        );
        assert_eq!(
            pieces("{a}é{b}.json"),
            r#"Field ("a") Lit ("é") Field ("b") Lit (".json")"#
        );
    }
}
