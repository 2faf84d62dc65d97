"""Per-request dataloaders, built in `get_context` and never shared between requests.

The Manage API has no batch endpoints, so a batch becomes one call per distinct key, run
concurrently (bounded by the caller's semaphore, `Settings.max_concurrent_fetches`). What the
loaders buy is deduplication and a per-request cache: the same organization asked for twice (under
aliases, or as the parent of many repositories) costs one call. Values come back in key order;
a key whose call failed gets its exception in its slot, so siblings still resolve.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from functools import partial
from typing import Any, Generic, TypeVar, cast

from aiodataloader import DataLoader

from gateway.backend.client import BackendClient, Caller
from gateway.backend.models import NamespaceJson, Page, RepositoryJson, RepositoryQuery, TagQuery

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _PerKeyLoader(DataLoader, Generic[K, V]):  # type: ignore[misc]
    """A loader that fetches each key with one backend call, all keys of a batch at once."""

    def __init__(self, client: BackendClient, caller: Caller, dedupe: bool = True) -> None:
        # dedupe=False (SWR_DATALOADERS=off): every load is its own batch and nothing is cached.
        super().__init__(batch=dedupe, cache=dedupe)
        self.client = client
        self.caller = caller

    async def fetch(self, key: K) -> V:
        raise NotImplementedError

    def load(self, key: K) -> asyncio.Future[V]:
        """With dedupe on, one task per distinct key, started at once and cached.

        A batch would answer every key when its slowest call returns (one `gather`); the
        backend has no batch calls, so answering each key as its own call returns lets the
        GraphQL work on early answers overlap the backend's work on later ones.
        """
        if key is None or not self.cache:
            return cast("asyncio.Future[V]", super().load(key))
        cache_key = self.get_cache_key(key)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cast("asyncio.Future[V]", cached)
        task = self.loop.create_task(self.fetch(key))
        self._cache[cache_key] = task
        task.add_done_callback(partial(self._uncache_failure, cache_key))
        return task

    def _uncache_failure(self, cache_key: Hashable, task: asyncio.Task[V]) -> None:
        # As aiodataloader does: a failed key is tried again by the next load.
        if (task.cancelled() or task.exception() is not None) and (
            self._cache.get(cache_key) is task
        ):
            del self._cache[cache_key]

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | BaseException]:
        results = await asyncio.gather(*map(self.fetch, keys), return_exceptions=True)
        return list(results)


ALL = "*"  # the one key of loaders that fetch a whole collection


class OrganizationsLoader(_PerKeyLoader[str, list[NamespaceJson]]):
    """The caller's organizations (one key, `ALL`): `GET /v2/manage/namespaces`."""

    async def fetch(self, key: str) -> list[NamespaceJson]:
        return await self.client.list_namespaces(self.caller)


class OrganizationByNameLoader(_PerKeyLoader[str, NamespaceJson]):
    async def fetch(self, key: str) -> NamespaceJson:
        return await self.client.get_namespace(self.caller, key)


class RepositoryByNameLoader(_PerKeyLoader[tuple[str, str], RepositoryJson]):
    """Key: `(namespace, repository name)`."""

    async def fetch(self, key: tuple[str, str]) -> RepositoryJson:
        return await self.client.get_repository(self.caller, *key)


class RepositoryPageByQueryLoader(_PerKeyLoader[RepositoryQuery, Page]):
    async def fetch(self, key: RepositoryQuery) -> Page:
        return await self.client.list_repositories(self.caller, key)


class TagPageByQueryLoader(_PerKeyLoader[TagQuery, Page]):
    async def fetch(self, key: TagQuery) -> Page:
        return await self.client.list_tags(self.caller, key)


class TagByNameLoader(_PerKeyLoader[tuple[str, str, str], dict[str, Any]]):
    """Key: `(namespace, repository, tag)`."""

    async def fetch(self, key: tuple[str, str, str]) -> dict[str, Any]:
        return dict(await self.client.get_tag(self.caller, *key))


class Loaders:
    """All loaders of one GraphQL request, as attributes (`info.context.loaders.<name>`)."""

    def __init__(self, client: BackendClient, caller: Caller, dedupe: bool = True) -> None:
        args = (client, caller, dedupe)
        self.organizations = OrganizationsLoader(*args)
        self.organization_by_name = OrganizationByNameLoader(*args)
        self.repository_by_name = RepositoryByNameLoader(*args)
        self.repository_page_by_query = RepositoryPageByQueryLoader(*args)
        self.tag_page_by_query = TagPageByQueryLoader(*args)
        self.tag_by_name = TagByNameLoader(*args)
        # Accounts, shares, official images, packages. Imported here because that module
        # builds on `_PerKeyLoader` above.
        from gateway.loaders_extra import ExtraLoaders

        self.extra = ExtraLoaders(*args)
        # ContainerOps (groups, templates, pipelines, jobs, logs); same reason for the import.
        from gateway.schema.pipeline_loaders import PipelineLoaders

        self.pipelines = PipelineLoaders(*args)

    def forget(self) -> None:
        """Drop every cached answer; mutations call this so later reads see the change."""
        for loader in vars(self).values():
            loader.clear_all()

