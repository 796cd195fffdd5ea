"""A check with the official MCP Python SDK (`pip install mcp`, 2.x): two
quickstart servers on one store over stdio; a subscription to a note in
the first hears of a change made through the second; reads show the new
value; unsubscribing stops the updates. Both lifecycles: the legacy one
(`initialize`, `resources/subscribe`) and 2026-07-28 (`Client.listen`).

    cargo build --example quickstart
    python3 tests/e2e/python/subscribe_check.py target/debug/examples/quickstart

Exit status 0 and "ok" when every step held; a failure names the step.
"""

import asyncio
import json
import sys
import tempfile

from mcp import Client, ClientSession, types
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated

URI = "persist://note/notes/plan"


async def main(server: str) -> None:
    data = tempfile.mkdtemp(prefix="mcp-persist-py-")
    params = StdioServerParameters(command=server, env={"MCP_PERSIST_DIR": data, "RUST_LOG": "warn"})
    heard: asyncio.Queue = asyncio.Queue()

    async def on_message(message) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            await heard.put(str(message.params.uri))
        elif isinstance(message, types.ResourceListChangedNotification):
            await heard.put("list_changed")

    async with stdio_client(params) as (r1, w1), stdio_client(params) as (r2, w2):
        async with ClientSession(r1, w1, message_handler=on_message) as watcher, ClientSession(r2, w2) as other:
            await watcher.initialize()
            await other.initialize()
            await other.call_tool("set_note", {"title": "plan", "text": "first"})

            listed = await watcher.list_resources()
            assert [str(r.uri) for r in listed.resources] == [URI], listed
            read = await watcher.read_resource(URI)
            assert json.loads(read.contents[0].text)["text"] == "first", read

            await watcher.subscribe_resource(URI)
            await other.call_tool("set_note", {"title": "plan", "text": "second"})
            got = await asyncio.wait_for(heard.get(), 10)
            assert got == URI, got
            read = await watcher.read_resource(URI)
            assert json.loads(read.contents[0].text)["text"] == "second", read

            # Unsubscribed: the next update is not heard; the list change
            # after it (a new note) proves the feed went past it.
            await watcher.unsubscribe_resource(URI)
            await other.call_tool("set_note", {"title": "plan", "text": "third"})
            await other.call_tool("set_note", {"title": "other", "text": "new"})
            got = await asyncio.wait_for(heard.get(), 10)
            assert got == "list_changed", got
    print("legacy: ok")

    # 2026-07-28: `subscriptions/listen`, the events as an async iterator.
    async with Client(params, mode="2026-07-28") as watcher, Client(params, mode="legacy") as other:
        async with watcher.listen(resource_subscriptions=[URI], resources_list_changed=True) as sub:
            events = aiter(sub)
            await other.call_tool("set_note", {"title": "plan", "text": "fourth"})
            event = await asyncio.wait_for(anext(events), 10)
            assert event == ResourceUpdated(uri=URI), event
            await other.call_tool("set_note", {"title": "third one", "text": "new"})
            event = await asyncio.wait_for(anext(events), 10)
            assert isinstance(event, ResourcesListChanged), event
        read = await watcher.read_resource(URI)
        assert json.loads(read.contents[0].text)["text"] == "fourth", read
    print("2026-07-28: ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
