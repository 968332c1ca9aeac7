"""Dynamic batching: requests that arrive close together share one forward pass.

One task owns the queue. Each job carries its own future; a batch runs when it
is full or when ``max_wait`` has passed since its first job, in a single model
thread so the event loop keeps accepting and decoding requests meanwhile.
Jobs whose caller went away are dropped before the batch runs, and a batch
that fails fails each of its jobs with the real error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


@dataclass
class _Job:
    prepared: Any
    future: asyncio.Future


class Batcher:
    def __init__(
        self,
        run_batch: Callable[[list[Any]], Sequence[Any]],
        *,
        max_batch: int,
        max_wait: float,
        on_batch: Callable[[int, float], None] = lambda size, seconds: None,
    ):
        if max_batch < 1 or max_wait < 0:
            raise ValueError("max_batch must be at least 1 and max_wait not negative")
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._model_thread = ThreadPoolExecutor(1, thread_name_prefix="model")
        self._task: asyncio.Task | None = None

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve(), name="batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._model_thread.shutdown(wait=True)

    async def submit(self, prepared: Any) -> Any:
        """The model's output for one prepared input, once its batch has run."""
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(prepared, future))
        return await future

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                left = deadline - loop.time()
                try:
                    job = self._queue.get_nowait() if left <= 0 else await asyncio.wait_for(
                        self._queue.get(), left)
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
                batch.append(job)
            batch = [job for job in batch if not job.future.done()]  # callers gone: cancelled
            if batch:
                await self._run(loop, batch)

    async def _run(self, loop: asyncio.AbstractEventLoop, batch: list[_Job]) -> None:
        start = time.monotonic()
        try:
            outputs = await loop.run_in_executor(self._model_thread, self._run_batch,
                                                 [job.prepared for job in batch])
            if len(outputs) != len(batch):
                raise RuntimeError(f"the model returned {len(outputs)} outputs for {len(batch)} inputs")
        except Exception as exc:  # every request of the batch gets the real error
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        finally:
            self._on_batch(len(batch), time.monotonic() - start)
        for job, output in zip(batch, outputs, strict=True):
            if not job.future.done():
                job.future.set_result(output)
