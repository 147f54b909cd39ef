"""The projector at run time: the lease, the live projection, and a rebuild beside it.

Several instances may share one PostgreSQL read model. The one holding the lease
(:mod:`.lease`) applies the stream; the others stand by: they serve reads from the same
tables (the active generation and its position are in the database) and take the lease
over when its holder dies. A takeover resumes from the committed position, as a restart
does. The holder writes through an engine fenced with its lease epoch (:mod:`.fence`).
With SQLite, the one instance always holds the lease.

A rebuild fills a new generation from the start of the stream while the
active one keeps serving and keeps up with the stream. Once the new one has
caught up with the stream's last sequence, the live projection stops after its
batch in hand, the new one catches up with exactly that position, and a single
row update makes it the active generation; the old tables are then dropped.
Reads never see a half-built generation. A projection version newer than the
active generation's starts a rebuild when an instance takes over; so does a rebuild
left unfinished by the previous holder (it resumes at its committed position).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from nats.aio.client import Client

from cungdan_contracts import Gazetteer
from cungdan_contracts.subjects import STREAM

from .engine import make_engine
from .fence import fenced_url
from .generations import Generation, ReadModel
from .lease import Holder, Lease, lease_for
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
                          retry_max_seconds=settings.retry_max_seconds,
                          delete_consumers=settings.delete_consumers)
    return Projection(store, source, gazetteer, deadletters, settings, writer=writer,
                      metrics=metrics, live=live)


class RebuildRunningError(RuntimeError):
    """A rebuild is already under way."""


class NotApplyingError(RuntimeError):
    """This instance stands by: the one holding the lease applies the stream and rebuilds."""


STANDBY_POLL_SECONDS = 0.05
"""How often a standby reads the database's position while a ``min_seq`` read waits."""
FRESHNESS_EVERY = 15
"""A standby reloads the provinces' freshness every this many stream checks (2 s each)."""


@dataclass
class RebuildProgress:
    generation: int
    started: float
    target: int = 0
    done: bool = False
    finished: float | None = None
    first: int = 0
    """The generation's position when this instance began (a resumed rebuild: not 0)."""


class ProjectorRuntime:
    def __init__(self, nc: Client, model: ReadModel, gazetteer: Gazetteer,
                 deadletters: DeadLetterSink, settings: ProjectorSettings,
                 version: int = PROJECTION_VERSION,
                 metrics: ProjectorMetrics | None = None, lease: Lease | None = None) -> None:
        self._nc = nc
        self.model = model
        """The read model as readers see it (not fenced: standbys read through it too)."""
        self._gazetteer = gazetteer
        self._deadletters = deadletters
        self._settings = settings
        self._version = version
        self.lease = lease or lease_for(model.engine, settings.instance_name,
                                        interval=settings.lease_interval_seconds)
        self.applying = False
        """Whether this instance holds the lease and applies the stream."""
        self.live: Projection | None = None
        self.rebuilding: Projection | None = None
        self.progress: RebuildProgress | None = None
        self._writes: ReadModel | None = None
        """The read model as the holder writes it: fenced with its lease epoch."""
        self._writes_url = ""
        self._seen = 0
        """The active generation's position as last read from the database (a standby)."""
        self._rebuild_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._tenure_task: asyncio.Task[None] | None = None
        self.metrics = metrics or ProjectorMetrics()
        self.stream_last_seq = 0

    @property
    def instance(self) -> str:
        return self.lease.instance

    @property
    def role(self) -> str:
        return "applying" if self.applying else "standby"

    @property
    def position(self) -> int:
        """The stream position the served totals reflect (a standby: as last read)."""
        live = self.live
        return live.position if self.applying and live is not None else self._seen

    @property
    def problem(self) -> str | None:
        """Why this instance is not ready, the database aside (readiness pings it)."""
        if not self.applying:
            return None if self._nc.is_connected else "not connected to NATS"
        live = self.live
        if live is None:
            return "starting"
        return None if live.ready else live.problem or "not connected to NATS"

    def _projection(self, store: GenerationStore, *, live: bool) -> Projection:
        return stream_projection(
            self._nc, store, self._gazetteer, self._deadletters,
            ProjectionSettings.of(self._settings),
            writer=writer_for(self._writes_url, self._settings.writer),
            metrics=self.metrics, live=live)

    async def start(self) -> None:
        """Take the lease if it is free (and apply), else stand by; then keep at it."""
        if await self.lease.try_acquire():
            await self._take_over()
        else:
            await self.refresh()
            holder = await self.holder()
            log.info("standing by: %s applies the stream",
                     holder.name if holder and holder.holding else "nobody yet")
        self._tenure_task = asyncio.create_task(self._tenure(), name="lease-tenure")
        self._watch_task = asyncio.create_task(self._watch_stream(), name="stream-watch")

    async def stop(self) -> None:
        for task in (self._tenure_task, self._watch_task, self._rebuild_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for projection in (self.rebuilding, self.live):
            if projection is not None:
                await projection.stop()
        self.applying = False
        await self.lease.release()  # after the last commit: a standby takes over at once
        self._dispose_writes()

    async def _tenure(self) -> None:
        """Stand by until the lease is free, apply while it is held, and again."""
        while True:
            try:
                if not self.applying:
                    if await self.lease.try_acquire():
                        await self._take_over()
                    else:
                        await asyncio.sleep(self._settings.lease_interval_seconds)
                    continue
                why = await self.lease.lost()
                log.warning("lost the lease (%s): standing by", why)
            except Exception:  # said, then stood down and tried again
                log.exception("taking over the stream failed; standing by")
                await asyncio.sleep(self._settings.lease_interval_seconds)
            await self._step_down()

    async def _take_over(self) -> None:
        """Apply the stream from the committed position of the active generation."""
        epoch = self.lease.epoch
        if epoch is None:
            self._writes, self._writes_url = self.model, self.model.engine.url.render_as_string(
                hide_password=False)
        else:
            self._writes_url = fenced_url(self.model.engine.url, epoch)
            self._writes = ReadModel(make_engine(self._writes_url))
        writes = self._writes
        try:
            active = await asyncio.to_thread(writes.upgrade)
            if active is None:
                store = await asyncio.to_thread(writes.create_generation, self._version,
                                                active=True)
            else:
                store = writes.generation(active.generation)
            self.live = self._projection(store, live=True)
            for admin_map, province, at in await asyncio.to_thread(store.freshness):
                self.metrics.saw(admin_map, province, at.timestamp())
            await self.live.start()
            self.applying = True
            self.metrics.applying.set(1)
            self.metrics.lease_acquired.inc()
            await self._resume_rebuild(active)
        except BaseException:
            await self._step_down()
            raise

    async def _resume_rebuild(self, active: Generation | None) -> None:
        """Finish what the previous holder left: a rebuild of this version resumes at its
        position; other unfinished or retired generations are dropped. A rebuild starts
        if the active generation is of an older projection version."""
        assert self._writes is not None
        resume: Generation | None = None
        for generation in await asyncio.to_thread(self._writes.generations):
            if generation.status == "active":
                continue
            if (generation.status == "building" and generation.version == self._version
                    and resume is None):
                resume = generation
                continue
            log.info("dropping generation %d (%s), left by a previous holder",
                     generation.generation, generation.status)
            await asyncio.to_thread(self._writes.drop_generation, generation.generation)
        if resume is not None:
            log.info("resuming the rebuild of generation %d at position %d",
                     resume.generation, resume.position)
            await self._rebuild_into(self._writes.generation(resume.generation))
        elif active is not None and active.version < self._version:
            log.info("projection version %d > active generation's %d: rebuilding",
                     self._version, active.version)
            await self.start_rebuild()

    async def _step_down(self) -> None:
        """Stop applying at once (another instance may apply already) and stand by."""
        self._seen = self.position
        self.applying = False
        self.metrics.applying.set(0)
        self.metrics.rebuilding.set(0)
        task, self._rebuild_task = self._rebuild_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for projection in (self.rebuilding, self.live):
            if projection is not None:
                await projection.abandon()
        self.live = self.rebuilding = self.progress = None
        await self.lease.release()
        self._dispose_writes()

    def _dispose_writes(self) -> None:
        writes, self._writes = self._writes, None
        if writes is not None and writes is not self.model:
            writes.engine.dispose()

    async def refresh(self) -> int:
        """The position the served totals reflect now (a standby reads the database)."""
        live = self.live
        if self.applying and live is not None:
            return live.position
        active = await asyncio.to_thread(self.model.active)
        self._seen = active.position if active is not None else 0
        return self._seen

    async def wait_for(self, seq: int, timeout_s: float) -> bool:
        """Read-your-writes: wait, at most ``timeout_s``, until ``seq`` is applied.
        The holder is woken by its commits; a standby polls the database's position."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            left = deadline - loop.time()
            live = self.live
            if self.applying and live is not None:
                # in slices: the projection may be swapped (a rebuild) or abandoned meanwhile
                if await live.wait_for(seq, max(0.0, min(left, 1.0))):
                    return True
            elif await self.refresh() >= seq:
                return True
            else:
                await asyncio.sleep(max(0.0, min(STANDBY_POLL_SECONDS, left)))
            if loop.time() >= deadline:
                return False

    async def holder(self) -> Holder | None:
        """Who holds the lease (from the database)."""
        return await asyncio.to_thread(self.lease.holder, self.model.engine)

    async def stores(self) -> list[GenerationStore]:
        """The generation that serves reads, and the one being rebuilt if any."""
        if self.applying:
            return [p.store for p in (self.live, self.rebuilding) if p is not None]
        generations = await asyncio.to_thread(self.model.generations)
        return [self.model.generation(g.generation)
                for status in ("active", "building") for g in generations if g.status == status]

    async def start_rebuild(self) -> RebuildProgress:
        if not self.applying or self._writes is None:
            raise NotApplyingError("this instance stands by; the one applying the stream "
                                   "rebuilds")
        if self._rebuild_task is not None and not self._rebuild_task.done():
            raise RebuildRunningError("a rebuild is already running")
        store = await asyncio.to_thread(self._writes.create_generation, self._version)
        return await self._rebuild_into(store)

    async def _rebuild_into(self, store: GenerationStore) -> RebuildProgress:
        self.progress = progress = RebuildProgress(store.number, time.monotonic())
        self.rebuilding = self._projection(store, live=False)
        self.metrics.rebuilding.set(1)
        await self.rebuilding.start()
        progress.first = self.rebuilding.position
        self._rebuild_task = asyncio.create_task(self._finish_rebuild(), name="rebuild")
        return progress

    async def _stream_last_seq(self) -> int:
        try:
            info = await self._nc.jetstream().stream_info(STREAM)
        finally:
            # nats-py swallows a cancellation that lands while it sends (it catches
            # CancelledError there); the task still says it is being cancelled
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
        self.stream_last_seq = int(info.state.last_seq)
        return self.stream_last_seq

    async def _watch_stream(self, every: float = 2.0) -> None:
        """Keep the position, lag and rebuild gauges current (the stream's head moves on its
        own; a standby's position and the provinces' freshness move with the holder's)."""
        ticks = 0
        while True:
            if not self.applying:
                try:
                    await self.refresh()
                    if ticks % FRESHNESS_EVERY == 0:
                        await self._reload_freshness()
                except Exception as exc:  # noqa: BLE001 - database down: readiness says so
                    log.debug("read model unavailable: %s", exc)
            position = self.position
            self.metrics.position.set(position)
            try:
                last = await self._stream_last_seq()
            except Exception as exc:  # noqa: BLE001 - NATS down: readiness says so
                log.debug("stream info unavailable: %s", exc)
            else:
                self.metrics.stream_last_seq.set(last)
                self.metrics.lag.set(max(0, last - position))
                if self.rebuilding is not None:
                    self.metrics.rebuild_progress.set(
                        self.rebuilding.position / last if last else 1.0)
            ticks += 1
            await asyncio.sleep(every)

    async def _reload_freshness(self) -> None:
        stores = await self.stores()
        if stores:
            for admin_map, province, at in await asyncio.to_thread(stores[0].freshness):
                self.metrics.saw(admin_map, province, at.timestamp())

    async def _finish_rebuild(self) -> None:
        new, old, writes = self.rebuilding, self.live, self._writes
        assert new is not None and old is not None and self.progress is not None
        assert writes is not None
        while True:
            target = await self._stream_last_seq()
            self.progress.target = target
            if new.position >= target:
                break
            await asyncio.sleep(0.2)
        await old.stop()  # its position is final now
        await new.wait_for(old.position, timeout_s=3600)
        await asyncio.to_thread(writes.activate, new.store.number)
        new.live = True
        self.live, self.rebuilding = new, None
        self.metrics.rebuilding.set(0)
        self.metrics.rebuild_progress.set(1)
        log.info("generation %d active at position %d (was %d); dropping generation %d",
                 new.store.number, new.position, old.position, old.store.number)
        try:
            await asyncio.to_thread(writes.drop_generation, old.store.number)
        except Exception:  # the swap stands; only the old tables are left behind
            log.exception("could not drop retired generation %d", old.store.number)
        # "done" once the old tables are gone: whoever polls for it then sees one generation
        self.progress.done, self.progress.finished = True, time.monotonic()

    def rebuild_status(self) -> dict[str, object]:
        """This instance's last rebuild (see :meth:`rebuild_report` for any instance)."""
        progress = self.progress
        if progress is None:
            return {"state": "idle"}
        projection = self.rebuilding or self.live
        position = projection.position if projection else 0
        elapsed = (progress.finished or time.monotonic()) - progress.started
        target = max(progress.target, position)
        done = position - progress.first
        return {
            "state": "done" if progress.done else "running",
            "generation": progress.generation,
            "position": position,
            "target": target,
            "percent": round(100.0 * position / target, 1) if target else 100.0,
            "elapsed_seconds": round(elapsed, 3),
            "events_per_second": round(done / elapsed, 1) if elapsed > 0 else None,
        }

    async def rebuild_report(self) -> dict[str, object]:
        """The rebuild's progress: the holder's own, or a standby's view of the database (a
        generation being built, and its position)."""
        if self.applying:
            return self.rebuild_status()
        generations = await asyncio.to_thread(self.model.generations)
        building = next((g for g in generations if g.status == "building"), None)
        if building is None:
            return {"state": "idle"}
        return {"state": "running", "generation": building.generation,
                "position": building.position}
