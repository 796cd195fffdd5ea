//! Snapshots of the code `#[persisted]` generates, one struct of each kind,
//! formatted and compared with `tests/snapshots/*.rs`. A change to the
//! expansion shows up as a diff there; regenerate them with
//! `UPDATE_SNAPSHOTS=1 cargo test -p persist-macros`, read the diff, commit.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;

fn snapshot(name: &str, args: TokenStream, item: TokenStream) {
    let expanded = crate::expand::persisted(args, item);
    let file: syn::File = match syn::parse2(expanded.clone()) {
        Ok(file) => file,
        Err(err) => panic!("the expansion of {name} does not parse: {err}\n{expanded}"),
    };
    let actual = format!(
        "// The expansion of `{name}`: see src/snapshots.rs (UPDATE_SNAPSHOTS=1 regenerates it).\n{}",
        prettyplease::unparse(&file)
    );
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.rs"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v != "0") {
        if let Err(err) = std::fs::write(&path, &actual) {
            panic!("cannot write {}: {err}", path.display());
        }
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "the expansion of {name} differs from {} from line {} on:\n  expected: {:?}\n  actual:   {:?}\n\
             If the change is intended, regenerate the snapshots with \
             `UPDATE_SNAPSHOTS=1 cargo test -p persist-macros` and commit the diff.",
            path.display(),
            first + 1,
            expected.lines().nth(first).unwrap_or("<end of file>"),
            actual.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}

#[test]
fn singleton() {
    snapshot(
        "singleton",
        quote!(key = "preferences"),
        quote! {
            /// User preferences.
            #[derive(Debug, Default)]
            pub struct Preferences {
                pub sort_order: String,
                pub show_metadata: bool,
            }
        },
    );
}

#[test]
fn keyed_with_two_fields_and_tools() {
    snapshot(
        "keyed_tools",
        quote!(key = "progress/{user}/{book_id}", ttl = "30d", tools),
        quote! {
            /// Reading progress of one user in one book.
            #[derive(Debug, Clone)]
            pub struct Progress {
                pub user: String,
                pub book_id: u32,
                pub page: u32,
            }
        },
    );
}

#[test]
fn list_with_max_len_and_ttl() {
    snapshot(
        "list",
        quote!(key = "searches", list, max_len = 5, ttl = "1h"),
        quote! {
            /// A search, newest first.
            #[derive(Debug)]
            struct Search {
                query: String,
            }
        },
    );
}

#[test]
fn per_user_list_with_tools() {
    snapshot(
        "scoped_list",
        quote!(key = "history", list, max_len = 100, scope = "user", tools),
        quote! {
            /// What one user looked at.
            struct Visit {
                page: String,
            }
        },
    );
}
