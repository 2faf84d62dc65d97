"""Per-request loaders of accounts, shares, permissions, official images and packages.

Same contract as `gateway.loaders` (one backend call per distinct key, a per-request cache,
never shared between requests); each loader wraps one call of `gateway.backend.manage_extra`,
with the key's parts as the call's arguments. `Loaders.extra` holds one `ExtraLoaders`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from gateway.backend import manage_extra as calls
from gateway.backend.client import BackendClient, Caller
from gateway.loaders import _PerKeyLoader

Call = Callable[..., Awaitable[Any]]


class CallLoader(_PerKeyLoader[tuple[Hashable, ...], Any]):
    """Loads key `(a, b, ...)` as `call(client, caller, a, b, ...)`."""

    def __init__(self, client: BackendClient, caller: Caller, dedupe: bool, call: Call) -> None:
        super().__init__(client, caller, dedupe)
        self.call = call

    async def fetch(self, key: tuple[Hashable, ...]) -> Any:
        return await self.call(self.client, self.caller, *key)


class ExtraLoaders:
    """Keys are tuples of the call's arguments; `()` for calls without any."""

    def __init__(self, client: BackendClient, caller: Caller, dedupe: bool = True) -> None:
        def loader(call: Call) -> CallLoader:
            return CallLoader(client, caller, dedupe, call)

        self.viewer = loader(calls.get_self)
        self.accelerator_by_account = loader(calls.get_accelerators)
        self.mirror_overview = loader(calls.get_mirror_overview)
        self.permissions_by_namespace = loader(calls.get_permissions)
        self.shares_by_repository = loader(calls.list_shares)
        self.shared_page_by_query = loader(calls.list_shared_repositories)
        self.official_page_by_query = loader(calls.list_official)
        self.official_by_name = loader(calls.get_official)
        self.official_tag_page = loader(calls.list_official_tags)
        self.package_page_by_query = loader(calls.list_packages)
        self.versions_by_package = loader(calls.list_package_versions)
        self.files_by_version = loader(calls.list_package_files)

    def clear_all(self) -> None:
        for item in vars(self).values():
            item.clear_all()
