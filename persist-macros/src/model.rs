//! The typed model of one `#[persisted]` struct, validated.

use proc_macro2::{Ident, Span};
use syn::{Fields, Item, ItemStruct, LitStr};

use crate::args::Args;
use crate::errors::Errors;

/// What the struct is: one record, one per key, or a list.
pub enum Kind {
    Singleton,
    Keyed,
    List { max_len: Option<usize> },
}

/// A validated `#[persisted]` struct.
pub struct Model {
    pub item: ItemStruct,
    pub key: LitStr,
    /// The fields named in the key's placeholders, in order, with their types.
    pub key_fields: Vec<(Ident, syn::Type)>,
    pub kind: Kind,
    pub ttl_secs: Option<u64>,
    pub namespace: String,
    pub version: u32,
    pub doc: String,
    /// `migrate = path`: upgrades records of older versions.
    pub migrate: Option<syn::ExprPath>,
    /// `tools`: the operations (empty: all of the kind's) and the name prefix.
    pub tools: Option<(Vec<Ident>, String)>,
    /// `resources`: the records as MCP resources.
    pub resources: bool,
    /// `scope = "user"`: one set of records per user.
    pub scoped: bool,
}

impl Model {
    /// Builds the model, recording every problem in `errors`. Returns `None`
    /// if the item is not a struct at all.
    pub fn build(args: Args, item: Item, errors: &mut Errors) -> Option<Self> {
        let item = match item {
            Item::Struct(s) => s,
            Item::Enum(e) => {
                errors.spanned(
                    e.enum_token,
                    "#[persisted] works on structs with named fields, not enums: \
                     wrap the enum in a field of a struct",
                );
                return None;
            }
            Item::Union(u) => {
                errors.spanned(
                    u.union_token,
                    "#[persisted] works on structs with named fields, not unions",
                );
                return None;
            }
            other => {
                errors.spanned(other, "#[persisted] works on structs with named fields");
                return None;
            }
        };
        let mut shape_ok = true;
        match &item.fields {
            Fields::Named(_) => {}
            Fields::Unnamed(f) => {
                shape_ok = false;
                errors.spanned(
                    f,
                    "#[persisted] needs named fields: write `struct Name { field: Type }`, not a tuple struct",
                );
            }
            Fields::Unit => {
                shape_ok = false;
                errors.spanned(
                    &item.ident,
                    "#[persisted] needs named fields: a unit struct has nothing to store",
                );
            }
        }
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            shape_ok = false;
            errors.spanned(
                &item.generics,
                "#[persisted] does not support generic structs: the stored type must be concrete \
                 (define one struct per stored type)",
            );
        }
        let named: Vec<(Ident, syn::Type)> = item
            .fields
            .iter()
            .filter_map(|f| Some((f.ident.clone()?, f.ty.clone())))
            .collect();

        let Some(key) = args.key else {
            if args.key_given {
                return None; // its error is already recorded
            }
            errors.at(
                Span::call_site(),
                "missing `key`: add `key = \"name\"` for one record, or `key = \"name/{field}\"` \
                 for one record per value of a field",
            );
            return None;
        };
        let key_fields = parse_template(&key, &named, errors);
        let kind = match (args.list, key_fields.is_empty()) {
            (Some(span), false) => {
                errors.at(
                    span,
                    "a `list` has one key: remove the placeholders from `key`, or drop `list` \
                     for one record per key",
                );
                Kind::List { max_len: None }
            }
            (Some(_), true) => Kind::List {
                max_len: args.max_len.as_ref().map(|m| m.value),
            },
            (None, true) => Kind::Singleton,
            (None, false) => Kind::Keyed,
        };
        if let (Some(max_len), None) = (&args.max_len, args.list) {
            errors.at(
                max_len.span,
                "`max_len` bounds a list: add `list`, or remove `max_len`",
            );
        }
        let namespace = args
            .namespace
            .map_or_else(|| snake_case(&item.ident.to_string()), |n| n.value);
        let doc = doc_of(&item);
        if let Some(migrate) = &args.migrate
            && args.version.as_ref().is_none_or(|v| v.value < 2)
        {
            errors.spanned(
                migrate,
                "`migrate` upgrades records written by older versions: set `version = N` \
                 (N >= 2) to the current schema version too",
            );
        }
        let tools = args
            .tools
            .map(|t| (check_tool_ops(&t.ops, &kind, errors), t.prefix));
        if !shape_ok {
            // Expanding for a struct of the wrong shape would only add errors.
            return None;
        }
        Some(Model {
            key,
            key_fields,
            kind,
            ttl_secs: args.ttl.map(|t| t.value),
            namespace,
            version: args.version.map_or(1, |v| v.value),
            doc,
            tools,
            resources: args.resources.is_some(),
            migrate: args.migrate,
            scoped: args.scope.is_some(),
            item,
        })
    }
}

/// Checks a key template and returns the fields of its placeholders, in order.
fn parse_template(
    key: &LitStr,
    fields: &[(Ident, syn::Type)],
    errors: &mut Errors,
) -> Vec<(Ident, syn::Type)> {
    let text = key.value();
    let mut placeholders: Vec<(Ident, syn::Type)> = Vec::new();
    if text.is_empty() {
        errors.spanned(
            key,
            "`key` must not be empty: name the record, e.g. `key = \"preferences\"`",
        );
        return placeholders;
    }
    if text.chars().any(char::is_control) {
        errors.spanned(key, "`key` must not contain control characters");
    }
    let mut at = 0;
    let mut previous_end = None;
    while let Some(found) = text[at..].find(['{', '}']) {
        let open = at + found;
        if text[open..].starts_with('}') {
            errors.spanned(
                key,
                "unbalanced `}` in `key`: placeholders are written `{field}`",
            );
            break;
        }
        let close = match text[open + 1..].find(['{', '}']) {
            Some(i) if text[open + 1 + i..].starts_with('}') => open + 1 + i,
            _ => {
                errors.spanned(
                    key,
                    "unbalanced `{` in `key`: close each placeholder, as in `{field}`",
                );
                break;
            }
        };
        if previous_end == Some(open) {
            errors.spanned(
                key,
                "placeholders in `key` must be separated by text, e.g. `{user}/{id}`, \
                 so that every key maps back to one record",
            );
        }
        let name = &text[open + 1..close];
        match fields.iter().find(|(f, _)| f == name) {
            _ if name.is_empty() => errors.spanned(
                key,
                "empty placeholder `{}` in `key`: name a field, as in `{id}`",
            ),
            Some(_) if placeholders.iter().any(|(p, _)| p == name) => errors.spanned(
                key,
                format!("placeholder `{{{name}}}` appears twice in `key`"),
            ),
            Some(field) => placeholders.push(field.clone()),
            None => {
                let list = fields
                    .iter()
                    .map(|(f, _)| f.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                errors.spanned(
                    key,
                    format!(
                        "placeholder `{{{name}}}` in `key` is not a field of the struct; \
                         its fields are: {list}"
                    ),
                );
            }
        }
        // `%` starts the escapes of values: as the first character after a
        // value it would make the value's end ambiguous (`{a}%{b}` renders
        // a = "x", b = "25%" and a = "x%", b = "25" to the same key). Found
        // by the `key` fuzz target.
        if text[close + 1..].starts_with('%') {
            errors.spanned(
                key,
                "a placeholder in `key` cannot be followed by `%`: it starts the escapes \
                 in key values, so the value's end would be ambiguous; put another \
                 character first, e.g. `{a}/%{b}`",
            );
        }
        previous_end = Some(close + 1);
        at = close + 1;
    }
    placeholders
}

/// Checks the operations named in `tools(...)` against the kind; returns their variant names.
fn check_tool_ops(ops: &[(String, Span)], kind: &Kind, errors: &mut Errors) -> Vec<Ident> {
    let (valid, what): (&[&str], &str) = match kind {
        Kind::Singleton => (&["get", "set", "update", "delete"], "a singleton"),
        Kind::Keyed => (&["get", "set", "update", "delete", "list"], "keyed records"),
        Kind::List { .. } => (&["add", "recent", "clear"], "a list"),
    };
    let mut out: Vec<Ident> = Vec::new();
    for (op, span) in ops {
        if !valid.contains(&op.as_str()) {
            errors.at(
                *span,
                format!(
                    "`{op}` is not a tool of {what}: its tools are {}",
                    valid.join(", ")
                ),
            );
            continue;
        }
        let variant = Ident::new(&format!("{}{}", op[..1].to_uppercase(), &op[1..]), *span);
        if out.contains(&variant) {
            errors.at(*span, format!("tool `{op}` is named twice"));
        } else {
            out.push(variant);
        }
    }
    out
}

/// The struct's doc comment, lines joined.
fn doc_of(item: &ItemStruct) -> String {
    let lines: Vec<String> = item
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join("\n").trim().to_owned()
}

/// `ReadingProgress` -> `reading_progress`, `HTTPCache` -> `http_cache`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(char::is_uppercase) && next.is_some_and(|n| n.is_lowercase()));
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Errors, parse_template, snake_case};

    /// The errors of key template `key` on a struct with fields a and b.
    fn template_errors(key: &str) -> Option<String> {
        let fields: Vec<(syn::Ident, syn::Type)> = ["a", "b"]
            .iter()
            .map(|f| (quote::format_ident!("{f}"), syn::parse_quote!(String)))
            .collect();
        let lit = syn::LitStr::new(key, proc_macro2::Span::call_site());
        let mut errors = Errors::default();
        parse_template(&lit, &fields, &mut errors);
        errors.into_compile_errors().map(|e| e.to_string())
    }

    #[test]
    fn a_percent_right_after_a_placeholder_is_refused() {
        for bad in ["{a}%{b}", "{a}%", "x/{a}%2F{b}"] {
            let err = template_errors(bad).unwrap_or_default();
            assert!(err.contains("cannot be followed by `%`"), "{bad}: {err}");
        }
        for good in ["{a}/%{b}", "%{a}", "p%/{a}-{b}", "{a}"] {
            assert_eq!(template_errors(good), None, "{good}");
        }
    }

    #[test]
    fn snake_cases() {
        assert_eq!(snake_case("Progress"), "progress");
        assert_eq!(snake_case("ReadingProgress"), "reading_progress");
        assert_eq!(snake_case("HTTPCache"), "http_cache");
        assert_eq!(snake_case("Stats2Cache"), "stats2_cache");
    }
}
