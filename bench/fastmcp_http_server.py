"""The Python pattern over HTTP, for bench/compare-fastmcp.sh: FastMCP with
bearer tokens (StaticTokenVerifier) and per-user notes in py-key-value's
DiskStore, each key prefixed by hand with the caller's client id. Same tools
and arguments as the notes of examples/notes_http.rs. Not part of the product.

Environment: FASTMCP_STORE_DIR (the DiskStore), FASTMCP_PORT, FASTMCP_TOKENS
("tokA=alice,tokB=bob")."""

import os

from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import StaticTokenVerifier
from fastmcp.server.dependencies import get_access_token
from key_value.aio.stores.disk import DiskStore

tokens = {}
for pair in os.environ["FASTMCP_TOKENS"].split(","):
    token, user = pair.split("=", 1)
    tokens[token] = {"client_id": user, "scopes": []}

store = DiskStore(directory=os.environ["FASTMCP_STORE_DIR"])
mcp = FastMCP("notes-http-py", auth=StaticTokenVerifier(tokens=tokens))
COLLECTION = "note"


def user() -> str:
    token = get_access_token()
    if token is None:
        raise ValueError("no authenticated user")
    return token.client_id


@mcp.tool()
async def set_note(title: str, text: str) -> dict:
    """Store a note of the calling user."""
    value = {"title": title, "text": text}
    await store.put(f"{user()}/{title}", value, collection=COLLECTION)
    return {"stored": {"record": value}}


@mcp.tool()
async def get_note(title: str) -> dict:
    """Get a note of the calling user."""
    value = await store.get(f"{user()}/{title}", collection=COLLECTION)
    if value is None:
        return {"found": False}
    return {"found": True, "stored": {"record": value}}


if __name__ == "__main__":
    mcp.run(
        transport="http",
        host="127.0.0.1",
        port=int(os.environ["FASTMCP_PORT"]),
        log_level="warning",
        show_banner=False,
    )
