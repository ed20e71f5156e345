"""Dynamic batching: concurrent requests to one signature become one model call.

A request becomes a task in one shared queue. Each batch thread takes the
oldest task, then adds queued tasks with the same key (servable, signature,
requested outputs, trailing input shapes and dtypes) until `max_batch_size`
rows are reached or `batch_timeout_micros` have passed since that oldest
task arrived, concatenates their inputs along the first axis, runs the model
once and hands each task its own rows back. A task larger than
`max_batch_size` runs on its own. Pool threads (classify, regress) block on
a task's future; REST and gRPC predicts await an asyncio future, and a batch
settles all of those with one callback on the event loop rather than one
wake-up per task.
"""
from __future__ import annotations

import asyncio
import collections
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hubml.exceptions import ServingError
from hubml.serving.config import BatchingOptions


@dataclass
class _Task:
    servable: object
    signature_name: str
    inputs: dict[str, np.ndarray]
    output_keys: list[str] | None
    rows: int
    key: tuple
    future: Future | asyncio.Future
    loop: asyncio.AbstractEventLoop | None = None  # set when `future` is an asyncio future
    enqueued: float = field(default_factory=time.monotonic)


class Batcher:
    """Batch threads serving one queue; `submit` returns a future of the task's outputs."""

    def __init__(self, options: BatchingOptions, on_batch: Callable[[int], None] | None = None):
        self.options = options
        self._on_batch = on_batch or (lambda rows: None)
        self._queue: collections.deque[_Task] = collections.deque()
        self._queued_rows = 0
        lock = threading.Lock()
        self._has_work = threading.Condition(lock)  # idle batch threads wait here
        self._batch_full = threading.Condition(lock)  # a thread filling a batch waits here, until its deadline
        self._stopped = False
        self._threads = [threading.Thread(target=self._serve, name=f"hubml-batch-{i}", daemon=True)
                         for i in range(options.num_batch_threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, servable, signature_name: str, inputs: dict[str, np.ndarray],
               output_keys: list[str] | None) -> Future:
        """A future of the task's outputs, for a thread to block on."""
        return self._enqueue(servable, signature_name, inputs, output_keys, Future(), None)

    def submit_async(self, servable, signature_name: str, inputs: dict[str, np.ndarray],
                     output_keys: list[str] | None) -> asyncio.Future:
        """An asyncio future of the task's outputs, settled on the running loop."""
        loop = asyncio.get_running_loop()
        return self._enqueue(servable, signature_name, inputs, output_keys, loop.create_future(), loop)

    def _enqueue(self, servable, signature_name: str, inputs: dict[str, np.ndarray], output_keys: list[str] | None,
                 future, loop: asyncio.AbstractEventLoop | None):
        rows = next(iter(inputs.values())).shape[0]
        shapes = tuple(sorted((name, value.dtype.str, value.shape[1:]) for name, value in inputs.items()))
        key = (id(servable), signature_name, tuple(output_keys or ()), shapes)
        task = _Task(servable, signature_name, inputs, output_keys, rows, key, future, loop)
        with self._has_work:
            if self._queued_rows >= self.options.max_enqueued_batches * self.options.max_batch_size:
                raise ServingError("UNAVAILABLE", "The batch scheduling queue to which this task was submitted is full")
            self._queue.append(task)
            self._queued_rows += rows
            self._has_work.notify()
            if self._queued_rows >= self.options.max_batch_size:  # waking a filling thread early pays only now
                self._batch_full.notify()
        return task.future

    def stop(self) -> None:
        with self._has_work:
            self._stopped = True
            self._has_work.notify_all()
            self._batch_full.notify_all()

    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._run(batch)

    def _next_batch(self) -> list[_Task] | None:
        with self._has_work:
            while not self._queue and not self._stopped:
                self._has_work.wait()
            if self._stopped:
                return None
            first = self._queue.popleft()
            batch, room = [first], self.options.max_batch_size - first.rows
            deadline = first.enqueued + self.options.batch_timeout_micros / 1e6
            while room > 0:
                room -= self._take_matching(first.key, room, batch)
                wait = deadline - time.monotonic()
                if room <= 0 or wait <= 0 or self._stopped:
                    break
                self._batch_full.wait(wait)
            self._queued_rows -= sum(task.rows for task in batch)
            if self._queue:  # let another batch thread start on what is left
                self._has_work.notify()
            return batch

    def _take_matching(self, key: tuple, room: int, batch: list[_Task]) -> int:
        taken = 0
        kept: collections.deque[_Task] = collections.deque()
        while self._queue:
            task = self._queue.popleft()
            if task.key == key and task.rows <= room - taken:
                batch.append(task)
                taken += task.rows
            else:
                kept.append(task)
        self._queue.extendleft(reversed(kept))
        return taken

    def _run(self, batch: list[_Task]) -> None:
        first = batch[0]
        total = sum(task.rows for task in batch)
        padded = self._padded_size(total)
        try:
            inputs = first.inputs if len(batch) == 1 and padded == total else {
                name: _pad(np.concatenate([task.inputs[name] for task in batch]), padded)
                for name in first.inputs
            }
            self._on_batch(padded)
            outputs = first.servable.run(first.signature_name, inputs, first.output_keys)
            _check_batched(outputs, padded)
        except BaseException as error:  # every waiting request must hear about it
            _settle([(task, error) for task in batch])
            return
        outcomes, start = [], 0
        for task in batch:
            outcomes.append((task, {name: value[start:start + task.rows] for name, value in outputs.items()}))
            start += task.rows
        _settle(outcomes)

    def _padded_size(self, rows: int) -> int:
        """The smallest allowed batch size holding `rows` (TF Serving pads up to it)."""
        for size in self.options.allowed_batch_sizes:
            if size >= rows:
                return size
        return rows


def _settle(outcomes: list[tuple[_Task, object]]) -> None:
    """Give each task its outputs or error: thread futures here, asyncio futures in one call per loop."""
    on_loops: dict[asyncio.AbstractEventLoop, list[tuple[_Task, object]]] = collections.defaultdict(list)
    for task, outcome in outcomes:
        if task.loop is None:
            _set_outcome(task.future, outcome)
        else:
            on_loops[task.loop].append((task, outcome))
    for loop, items in on_loops.items():
        try:
            loop.call_soon_threadsafe(_set_outcomes, items)
        except RuntimeError:  # the loop closed: the server is stopping and nobody waits any more
            pass


def _set_outcomes(items: list[tuple[_Task, object]]) -> None:
    for task, outcome in items:
        _set_outcome(task.future, outcome)


def _set_outcome(future, outcome) -> None:
    if future.done():  # an asyncio future whose request was cancelled
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _pad(value: np.ndarray, rows: int) -> np.ndarray:
    if value.shape[0] == rows:
        return value
    return np.concatenate([value, np.repeat(value[-1:], rows - value.shape[0], axis=0)])


def _check_batched(outputs: dict[str, np.ndarray], rows: int) -> None:
    for name, value in outputs.items():
        if value.ndim == 0 or value.shape[0] != rows:
            raise ServingError("INVALID_ARGUMENT", f"Batched output tensor {name} has shape {value.shape}, "
                                                   f"expected a first dimension of {rows}")
