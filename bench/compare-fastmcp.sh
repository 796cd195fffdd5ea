#!/usr/bin/env bash
# Side by side with the Python pattern this project replaces: FastMCP (>= 2.13)
# with py-key-value-aio's DiskStore, in a throwaway virtualenv, against our
# database_operations example, both driven by the same rmcp client over stdio.
# Prints a Markdown table of ratios. Needs python3 with venv and network
# access to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "fastmcp>=2.13" "py-key-value-aio[disk]"
"$venv/bin/python" -c 'import fastmcp; print("fastmcp", fastmcp.__version__)' >&2

cargo build --release --quiet --example database_operations
COMPARE_RUST_SERVER="$PWD/target/release/examples/database_operations" \
COMPARE_PYTHON="$venv/bin/python" \
COMPARE_PYTHON_SERVER="$PWD/bench/fastmcp_server.py" \
    cargo bench --quiet -p mcp-persist-benches --bench compare
