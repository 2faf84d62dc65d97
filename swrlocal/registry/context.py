"""What a registry handler works with: the backend, the blob store, the caller and the name."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request

from swrlocal.db import Database, Row
from swrlocal.registry import auth, errors, meta
from swrlocal.registry.blobstore import BlobStore
from swrlocal.registry.names import RepoName
from swrlocal.state import Backend

logger = logging.getLogger("swrlocal.registry")


@dataclass
class RegistryState:
    store: BlobStore
    signing_key: bytes


def registry_state(request: Request) -> RegistryState:
    """Created on first use, so the app factory needs no registry-specific set-up."""
    app_state = request.app.state
    state: RegistryState | None = getattr(app_state, "registry", None)
    if state is None:
        backend: Backend = app_state.backend
        data_dir = backend.settings.data_dir
        state = RegistryState(BlobStore(data_dir), auth.load_signing_key(data_dir))
        app_state.registry = state
    return state


@dataclass
class Context:
    request: Request
    backend: Backend
    state: RegistryState
    caller: auth.Caller
    name: RepoName

    @property
    def db(self) -> Database:
        return self.backend.db

    @property
    def store(self) -> BlobStore:
        return self.state.store

    @property
    def request_id(self) -> str:
        return str(self.request.scope.get("state", {}).get("request_id", "-"))

    def log(self, message: str, *args: object) -> None:
        logger.info(
            "request_id=%s user=%s " + message, self.request_id,
            self.caller.principal.user_name, *args,
        )

    def repository(self) -> Row:
        """The existing repository, or 404 NAME_UNKNOWN (the caller may read it)."""
        row = meta.find_repository(self.db, self.name)
        if row is None:
            raise errors.name_unknown(self.name.full)
        return row

    def repository_for_push(self) -> Row:
        row = meta.ensure_repository(self.backend, self.caller.principal, self.name)
        if row is None:
            # Unreachable after the access check (no organization means no rights); kept so a
            # race with an organization delete still answers like a missing organization.
            raise errors.denied()
        return row

    def url(self, suffix: str) -> str:
        return f"/v2/{self.name.full}/{suffix}"
