#!/usr/bin/env bash
# Side by side with the Python pattern this project replaces: FastMCP (>= 2.13)
# with py-key-value-aio's DiskStore, in a throwaway virtualenv, against our
# examples, both driven by the same rmcp client: over stdio (database_operations,
# one client) and over streamable HTTP (notes_http, 1/16/64 clients, each its
# own user with a bearer token). Prints Markdown tables of ratios. Needs python3
# with venv and access to PyPI. `compare-fastmcp.sh http` runs the HTTP part only.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "fastmcp>=2.13" "py-key-value-aio[disk]"
"$venv/bin/python" -c 'import fastmcp; print("fastmcp", fastmcp.__version__)' >&2

if [ "${1:-}" != "http" ]; then
cargo build --release --quiet --example database_operations
COMPARE_RUST_SERVER="$PWD/target/release/examples/database_operations" \
COMPARE_PYTHON="$venv/bin/python" \
COMPARE_PYTHON_SERVER="$PWD/bench/fastmcp_server.py" \
    cargo bench --quiet -p mcp-persist-benches --bench compare
fi

cargo build --release --quiet --features http --example notes_http
HTTP_BENCH_RUST_SERVER="$PWD/target/release/examples/notes_http" \
HTTP_BENCH_PYTHON="$venv/bin/python" \
HTTP_BENCH_PYTHON_SERVER="$PWD/bench/fastmcp_http_server.py" \
    cargo bench --quiet -p mcp-persist-benches --bench http_load
