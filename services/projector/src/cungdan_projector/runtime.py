"""The projector at run time: the live projection, and a rebuild beside it.

A rebuild fills a new generation from the start of the stream while the
active one keeps serving and keeps up with the stream. Once the new one has
caught up with the stream's last sequence, the live projection stops after its
batch in hand, the new one catches up with exactly that position, and a single
row update makes it the active generation; the old tables are then dropped.
Reads never see a half-built generation. A projection version newer than the
active generation's starts a rebuild on start-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from nats.aio.client import Client

from cungdan_contracts import Gazetteer
from cungdan_contracts.subjects import STREAM

from .generations import ReadModel
from .metrics import ProjectorMetrics
from .projection import DeadLetterSink, Projection, ProjectionSettings
from .reader import StreamReader
from .rollup import PROJECTION_VERSION
from .settings import ProjectorSettings
from .store import GenerationStore
from .writer import Writer, writer_for

log = logging.getLogger("cungdan.projector")


def stream_projection(nc: Client, store: GenerationStore, gazetteer: Gazetteer,
                      deadletters: DeadLetterSink, settings: ProjectionSettings, *,
                      writer: Writer | None = None, metrics: ProjectorMetrics | None = None,
                      live: bool = True) -> Projection:
    """A projection of the NATS stream into ``store``'s generation."""
    source = StreamReader(nc, name=f"projector-g{store.number}", batch=settings.batch_max,
                          prefetch=settings.prefetch,
                          retry_max_seconds=settings.retry_max_seconds)
    return Projection(store, source, gazetteer, deadletters, settings, writer=writer,
                      metrics=metrics, live=live)


class RebuildRunningError(RuntimeError):
    """A rebuild is already under way."""


@dataclass
class RebuildProgress:
    generation: int
    started: float
    target: int = 0
    done: bool = False
    finished: float | None = None


class ProjectorRuntime:
    def __init__(self, nc: Client, model: ReadModel, gazetteer: Gazetteer,
                 deadletters: DeadLetterSink, settings: ProjectorSettings,
                 version: int = PROJECTION_VERSION,
                 metrics: ProjectorMetrics | None = None) -> None:
        self._nc = nc
        self.model = model
        self._gazetteer = gazetteer
        self._deadletters = deadletters
        self._settings = settings
        self._version = version
        self.live: Projection | None = None
        self.rebuilding: Projection | None = None
        self.progress: RebuildProgress | None = None
        self._rebuild_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self.metrics = metrics or ProjectorMetrics()
        self.stream_last_seq = 0
        self._database_url = model.engine.url.render_as_string(hide_password=False)

    def _projection(self, store: GenerationStore, *, live: bool) -> Projection:
        return stream_projection(
            self._nc, store, self._gazetteer, self._deadletters,
            ProjectionSettings.of(self._settings),
            writer=writer_for(self._database_url, self._settings.writer),
            metrics=self.metrics, live=live)

    async def start(self) -> None:
        active = await asyncio.to_thread(self.model.upgrade)
        if active is None:
            store = await asyncio.to_thread(self.model.create_generation, self._version,
                                            active=True)
        else:
            store = self.model.generation(active.generation)
        self.live = self._projection(store, live=True)
        for admin_map, province, at in await asyncio.to_thread(store.freshness):
            self.metrics.saw(admin_map, province, at.timestamp())
        await self.live.start()
        self._watch_task = asyncio.create_task(self._watch_stream(), name="stream-watch")
        if active is not None and active.version < self._version:
            log.info("projection version %d > active generation's %d: rebuilding",
                     self._version, active.version)
            await self.start_rebuild()

    async def stop(self) -> None:
        for task in (self._watch_task, self._rebuild_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for projection in (self.rebuilding, self.live):
            if projection is not None:
                await projection.stop()

    async def start_rebuild(self) -> RebuildProgress:
        if self._rebuild_task is not None and not self._rebuild_task.done():
            raise RebuildRunningError("a rebuild is already running")
        store = await asyncio.to_thread(self.model.create_generation, self._version)
        self.progress = RebuildProgress(store.number, time.monotonic())
        self.rebuilding = self._projection(store, live=False)
        self.metrics.rebuilding.set(1)
        await self.rebuilding.start()
        self._rebuild_task = asyncio.create_task(self._finish_rebuild(), name="rebuild")
        return self.progress

    async def _stream_last_seq(self) -> int:
        info = await self._nc.jetstream().stream_info(STREAM)
        self.stream_last_seq = int(info.state.last_seq)
        return self.stream_last_seq

    async def _watch_stream(self, every: float = 2.0) -> None:
        """Keep the lag and rebuild gauges current (the stream's head moves on its own)."""
        while True:
            try:
                last = await self._stream_last_seq()
            except Exception as exc:  # noqa: BLE001 - NATS down: readiness says so
                log.debug("stream info unavailable: %s", exc)
            else:
                self.metrics.stream_last_seq.set(last)
                if self.live is not None:
                    self.metrics.lag.set(max(0, last - self.live.position))
                    self.metrics.position.set(self.live.position)
                if self.rebuilding is not None:
                    self.metrics.rebuild_progress.set(
                        self.rebuilding.position / last if last else 1.0)
            await asyncio.sleep(every)

    async def _finish_rebuild(self) -> None:
        new, old = self.rebuilding, self.live
        assert new is not None and old is not None and self.progress is not None
        while True:
            target = await self._stream_last_seq()
            self.progress.target = target
            if new.position >= target:
                break
            await asyncio.sleep(0.2)
        await old.stop()  # its position is final now
        await new.wait_for(old.position, timeout_s=3600)
        await asyncio.to_thread(self.model.activate, new.store.number)
        new.live = True
        self.live, self.rebuilding = new, None
        self.metrics.rebuilding.set(0)
        self.metrics.rebuild_progress.set(1)
        log.info("generation %d active at position %d (was %d); dropping generation %d",
                 new.store.number, new.position, old.position, old.store.number)
        try:
            await asyncio.to_thread(self.model.drop_generation, old.store.number)
        except Exception:  # the swap stands; only the old tables are left behind
            log.exception("could not drop retired generation %d", old.store.number)
        # "done" once the old tables are gone: whoever polls for it then sees one generation
        self.progress.done, self.progress.finished = True, time.monotonic()

    def rebuild_status(self) -> dict[str, object]:
        progress = self.progress
        if progress is None:
            return {"state": "idle"}
        projection = self.rebuilding or self.live
        position = projection.position if projection else 0
        elapsed = (progress.finished or time.monotonic()) - progress.started
        target = max(progress.target, position)
        return {
            "state": "done" if progress.done else "running",
            "generation": progress.generation,
            "position": position,
            "target": target,
            "percent": round(100.0 * position / target, 1) if target else 100.0,
            "elapsed_seconds": round(elapsed, 3),
            "events_per_second": round(position / elapsed, 1) if elapsed > 0 else None,
        }
