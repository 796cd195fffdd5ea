//! Parsing `#[persisted(...)]` arguments into typed slots, one error per mistake.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Lit, LitInt, LitStr, Token};

use crate::errors::Errors;

/// The options `#[persisted]` accepts, for error messages.
pub const OPTIONS: &str =
    "key, ttl, list, max_len, namespace, version, migrate, scope, tools, resources";

/// A value with the span it came from.
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    fn of(value: T, tokens: &impl syn::spanned::Spanned) -> Self {
        Self {
            value,
            span: tokens.span(),
        }
    }
}

/// Fills `slot` unless the option was already given, which is reported once.
fn set_once<T>(slot: &mut Option<T>, value: T, duplicate: impl FnOnce()) {
    if slot.is_some() {
        duplicate();
    } else {
        *slot = Some(value);
    }
}

/// The parsed arguments; every slot is optional here, `model` decides what is required.
#[derive(Default)]
pub struct Args {
    pub key: Option<LitStr>,
    /// `key` was written, even if its value was invalid (no "missing key" then).
    pub key_given: bool,
    pub ttl: Option<Spanned<u64>>,
    pub list: Option<Span>,
    pub max_len: Option<Spanned<usize>>,
    pub namespace: Option<Spanned<String>>,
    pub version: Option<Spanned<u32>>,
    pub tools: Option<Tools>,
    pub migrate: Option<syn::ExprPath>,
    /// `scope = "user"`: one set of records per user.
    pub scope: Option<Span>,
    /// `resources`: the records as MCP resources.
    pub resources: Option<Span>,
}

/// `tools` or `tools(get, set, prefix = "books_")`.
pub struct Tools {
    /// The operations named, with their spans; empty means all of the kind's.
    pub ops: Vec<(String, Span)>,
    pub prefix: String,
}

impl Args {
    /// Parses `tokens`, recording every mistake in `errors`.
    pub fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = Args::default();
        let parser = syn::meta::parser(|meta| {
            args.option(&meta, errors)?;
            Ok(())
        });
        if let Err(err) = parser.parse2(tokens) {
            errors.push(err);
        }
        args
    }

    fn option(&mut self, meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<()> {
        let path = &meta.path;
        let name = path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_else(|| quote::quote!(#path).to_string());
        let span = path
            .get_ident()
            .map_or_else(Span::call_site, proc_macro2::Ident::span);
        let duplicate = |errors: &mut Errors| {
            errors.at(span, format!("duplicate `{name}` option: give it once"));
        };
        match name.as_str() {
            "key" => {
                self.key_given = true;
                let Some(lit) = value_of::<LitStr>(meta, errors, "key = \"progress/{book_id}\"")?
                else {
                    return Ok(());
                };
                set_once(&mut self.key, lit, || duplicate(errors));
            }
            "ttl" => {
                let Some(lit) = value_of::<Lit>(meta, errors, "ttl = \"1h\"")? else {
                    return Ok(());
                };
                match parse_ttl(&lit) {
                    Err(msg) => errors.spanned(&lit, msg),
                    Ok(secs) => {
                        set_once(&mut self.ttl, Spanned::of(secs, &lit), || duplicate(errors))
                    }
                }
            }
            "list" => {
                if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    errors.at(
                        span,
                        "`list` takes no value: write `list`, and `max_len = N` to bound it",
                    );
                    skip_value(meta)?;
                } else {
                    set_once(&mut self.list, span, || duplicate(errors));
                }
            }
            "resources" => {
                if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    errors.at(
                        span,
                        "`resources` takes no value: write `resources` to serve the records as \
                         MCP resources",
                    );
                    skip_value(meta)?;
                } else {
                    set_once(&mut self.resources, span, || duplicate(errors));
                }
            }
            "max_len" => {
                let Some(lit) = value_of::<LitInt>(meta, errors, "max_len = 50")? else {
                    return Ok(());
                };
                match lit.base10_parse::<usize>() {
                    Ok(0) | Err(_) => {
                        errors.spanned(&lit, "`max_len` must be a whole number of at least 1")
                    }
                    Ok(n) => set_once(&mut self.max_len, Spanned::of(n, &lit), || {
                        duplicate(errors)
                    }),
                }
            }
            "namespace" => {
                let Some(lit) =
                    value_of::<LitStr>(meta, errors, "namespace = \"reading_progress\"")?
                else {
                    return Ok(());
                };
                let ns = lit.value();
                let valid = (1..=64).contains(&ns.len())
                    && ns.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.')
                    });
                if !valid {
                    errors.spanned(
                        &lit,
                        "`namespace` must be 1 to 64 characters of a-z, 0-9, '_', '-' or '.'",
                    );
                } else {
                    set_once(&mut self.namespace, Spanned::of(ns, &lit), || {
                        duplicate(errors)
                    });
                }
            }
            "version" => {
                let Some(lit) = value_of::<LitInt>(meta, errors, "version = 2")? else {
                    return Ok(());
                };
                match lit.base10_parse::<u32>() {
                    Ok(0) | Err(_) => errors.spanned(
                        &lit,
                        "`version` must be a whole number from 1 to 4294967295",
                    ),
                    Ok(v) => set_once(&mut self.version, Spanned::of(v, &lit), || {
                        duplicate(errors)
                    }),
                }
            }
            "scope" => {
                let Some(lit) = value_of::<LitStr>(meta, errors, "scope = \"user\"")? else {
                    return Ok(());
                };
                if lit.value() == "user" {
                    set_once(&mut self.scope, lit.span(), || duplicate(errors));
                } else {
                    errors.spanned(
                        &lit,
                        "`scope` must be \"user\" (one set of records per user); leave it out \
                         for records shared by every caller. Per-conversation state of a user: \
                         scope = \"user\" with the conversation id as a key field",
                    );
                }
            }
            "migrate" => {
                let Some(path) =
                    value_of::<syn::ExprPath>(meta, errors, "migrate = upgrade_progress")?
                else {
                    return Ok(());
                };
                set_once(&mut self.migrate, path, || duplicate(errors));
            }
            "tools" => {
                let mut tools = Tools {
                    ops: Vec::new(),
                    prefix: String::new(),
                };
                if meta.input.peek(syn::token::Paren) {
                    meta.parse_nested_meta(|inner| {
                        let Some(ident) = inner.path.get_ident() else {
                            errors.spanned(&inner.path, "expected a tool operation or `prefix = \"...\"`");
                            return skip_value(&inner);
                        };
                        if ident == "prefix" {
                            if let Some(lit) = value_of::<LitStr>(&inner, errors, "prefix = \"books_\"")? {
                                let prefix = lit.value();
                                if prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
                                    tools.prefix = prefix;
                                } else {
                                    errors.spanned(&lit, "a tool name `prefix` may only use letters, digits, '_', '-' and '.'");
                                }
                            }
                        } else {
                            tools.ops.push((ident.to_string(), ident.span()));
                        }
                        Ok(())
                    })?;
                } else if meta.input.peek(Token![=]) {
                    errors.at(
                        span,
                        "`tools` takes a list, not a value: `tools` or `tools(get, set)`",
                    );
                    skip_value(meta)?;
                }
                set_once(&mut self.tools, tools, || duplicate(errors));
            }
            _ => {
                errors.at(
                    span,
                    format!("unknown option `{name}` of #[persisted]: the options are {OPTIONS}"),
                );
                skip_value(meta)?;
            }
        }
        Ok(())
    }
}

/// Parses `= value` as `T`. A value of the wrong form is recorded in `errors`
/// (with the expected form) and gives `None`, so parsing goes on.
fn value_of<T: syn::parse::Parse>(
    meta: &ParseNestedMeta<'_>,
    errors: &mut Errors,
    example: &str,
) -> syn::Result<Option<T>> {
    let stream = meta
        .value()
        .map_err(|e| syn::Error::new(e.span(), format!("expected a value, as in `{example}`")))?;
    let expr: syn::Expr = stream.parse()?;
    match syn::parse2::<T>(quote::ToTokens::to_token_stream(&expr)) {
        Ok(value) => Ok(Some(value)),
        Err(_) => {
            errors.spanned(
                &expr,
                format!("unexpected value; expected the form `{example}`"),
            );
            Ok(None)
        }
    }
}

/// Skips `= expr` or `(...)` after an option we reject, so parsing can go on.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.parse_nested_meta(|inner| skip_value(&inner));
    }
    Ok(())
}

/// `"90s"`, `"15m"`, `"1h"`, `"7d"` or an integer number of seconds.
fn parse_ttl(lit: &Lit) -> Result<u64, String> {
    const FORM: &str = "write it as \"90s\", \"15m\", \"1h\", \"7d\" or a number of seconds";
    let secs = match lit {
        Lit::Int(int) => int
            .base10_parse::<u64>()
            .map_err(|_| format!("`ttl` is not a valid number of seconds: {FORM}"))?,
        Lit::Str(s) => {
            let text = s.value();
            let text = text.trim();
            let split = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            let (digits, unit) = text.split_at(split);
            let n: u64 = digits
                .parse()
                .map_err(|_| format!("`ttl` {text:?} does not start with a number: {FORM}"))?;
            let unit_secs = match unit.trim() {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                other => return Err(format!("unknown `ttl` unit {other:?}: {FORM}")),
            };
            n.checked_mul(unit_secs)
                .ok_or_else(|| format!("`ttl` {text:?} is too large"))?
        }
        _ => return Err(format!("`ttl` must be a string or an integer: {FORM}")),
    };
    if secs == 0 {
        return Err(format!(
            "`ttl` must be longer than zero (leave it out for records that never expire): {FORM}"
        ));
    }
    Ok(secs)
}
