"""A consumer without a channel layer reads its messages in its own task
(``realtime.direct``): nothing else waits on ``receive()`` for it."""

from __future__ import annotations

import asyncio

from channels.testing import WebsocketCommunicator

from realtime.direct import DirectConsumer


class Echo(DirectConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "bye":
            await self.close(code=4000)
            return
        await self.send(text_data=f"echo {text_data}")


def _receiving_tasks() -> list[asyncio.Task[object]]:
    """Tasks awaiting an application's ``receive()`` (the communicator's queue)."""
    return [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "Queue.get"
    ]


async def test_a_direct_consumer_answers_and_closes_with_no_receive_task_of_its_own() -> None:
    communicator = WebsocketCommunicator(Echo.as_asgi(), "/ws/echo/")
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_to(text_data="one")
    assert await communicator.receive_from() == "echo one"
    # channels' await_many_dispatch would hold a task here, awaiting the next message.
    assert _receiving_tasks() == []
    await communicator.send_to(text_data="bye")
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4000}
    await communicator.disconnect()
    assert communicator.future.done()
    assert not communicator.future.cancelled()  # it ended by itself (StopConsumer)
