"""The Python pattern mcp-persist replaces: FastMCP + py-key-value DiskStore,
written the way ../shared/reference/fastmcp-persistent-storage-pattern.md
shows. Same tools and arguments as examples/database_operations.rs, for
bench/compare-fastmcp.sh. Not part of the product."""

import os

from fastmcp import FastMCP
from key_value.aio.stores.disk import DiskStore

store = DiskStore(directory=os.environ["FASTMCP_STORE_DIR"])
mcp = FastMCP("database-operations-py")
COLLECTION = "database_operations"


@mcp.tool()
async def get_preferences() -> dict:
    """Get the stored preferences."""
    value = await store.get("preferences", collection=COLLECTION)
    return {"found": value is not None, "record": value}


@mcp.tool()
async def set_preferences(default_limit: int, sort_order: str, show_metadata: bool) -> dict:
    """Store the preferences."""
    value = {"default_limit": default_limit, "sort_order": sort_order, "show_metadata": show_metadata}
    await store.put("preferences", value, collection=COLLECTION)
    return {"record": value}


@mcp.tool()
async def switch_database(db_name: str) -> str:
    """Switch the active database."""
    await store.put("current_database", {"name": db_name}, collection=COLLECTION)
    return f"switched to {db_name}"


@mcp.tool()
async def search(query: str, limit: int | None = None) -> str:
    """Search and record the query in a bounded history."""
    current = await store.get("current_database", collection=COLLECTION)
    if current is None:
        raise ValueError("no database selected: call switch_database first")
    history = await store.get("search_history", collection=COLLECTION) or {"items": []}
    history["items"].insert(0, {"query": query, "database": current["name"], "limit": limit or 20})
    history["items"] = history["items"][:50]
    await store.put("search_history", history, collection=COLLECTION)
    return f"0 results for {query!r} in {current['name']}"


if __name__ == "__main__":
    mcp.run(show_banner=False)
