"""Sharing: repository shares with other accounts (contract 5, 6) and repository visibility.

A share gives another account read access to one repository until its deadline. Share records
are visible to members of the owning organization only; the receiving account sees the
repository in `sharedRepositories(center: THIRDPARTY)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any, cast

import strawberry
from strawberry import relay

from gateway.backend import manage_extra as calls
from gateway.backend.models import Json, RepositoryJson
from gateway.schema.errors import UserInputError, check_namespace, check_repository
from gateway.schema.node import repository_key, split_repository_key
from gateway.schema.pagination import NODES_DOC, OrderDirection, build_connection, page_window
from gateway.schema.repositories import Repository, repository_or_none
from gateway.schema.scalars import DateTime
from gateway.schema.types import Info

FOREVER = "forever"


@strawberry.enum(description="What a share allows; the contract knows only read (pull).")
class SharePermit(Enum):
    READ = "read"


@strawberry.enum(description="Which side of shares to list (contract 6, `center`).")
class ShareCenter(Enum):
    SELF = strawberry.enum_value("self", description="Repositories the caller's account "
                                 "shares with others.")
    THIRDPARTY = strawberry.enum_value("thirdparty", description="Repositories other "
                                       "accounts share with the caller's account.")


def share_key(namespace: str, repository: str, account: str) -> str:
    return f"{repository_key(namespace, repository)}@{account}"


def split_share_key(key: str) -> tuple[str, str, str]:
    # Organization and repository names never hold `@`; an account name might.
    repo_key, sep, account = key.partition("@")
    if not sep or not account:
        raise UserInputError(f"invalid share id: {key!r}")
    return (*split_repository_key(repo_key), account)


@strawberry.type(description="A repository's share with another account.")
class RepositoryShare(relay.Node):
    key: relay.NodeID[str]
    namespace: str
    repository_name: str
    account: str = strawberry.field(description="The account the repository is shared with.")
    permit: SharePermit
    deadline: str = strawberry.field(description="`forever`, or the RFC 3339 time (UTC) the "
                                     "share ends at; it lasts to the end of that day.")
    description: str
    is_valid: bool = strawberry.field(description="False once the deadline has passed.")
    creator_id: str
    creator_name: str
    created_at: DateTime | None
    updated_at: DateTime | None

    @classmethod
    def from_json(cls, data: Json) -> RepositoryShare:
        ns, repo, account = data["namespace"], data["repository"], data["access_domain"]
        return cls(
            key=share_key(ns, repo, account), namespace=ns, repository_name=repo,
            account=account, permit=SharePermit(data.get("permit", "read")),
            deadline=data.get("deadline", ""), description=data.get("description", ""),
            is_valid=bool(data.get("status")), creator_id=data.get("creator_id", ""),
            creator_name=data.get("creator_name", ""), created_at=data.get("created"),
            updated_at=data.get("updated"),
        )

    @strawberry.field(description="The shared repository.")
    async def repository(self, info: Info) -> Repository | None:
        return await repository_or_none(info, self.namespace, self.repository_name, False)

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[RepositoryShare | None]:
        return [await share_or_none(info, *split_share_key(key)) for key in node_ids]


async def share_or_none(info: Info, namespace: str, repository: str, account: str
                        ) -> RepositoryShare | None:
    ctx = info.context
    ns, repo = check_namespace(namespace), check_repository(repository)
    data = await calls.get_share(ctx.client, ctx.caller, ns, repo, account)
    return RepositoryShare.from_json(data) if data.get("exist") else None


async def load_shares(info: Info, namespace: str, repository: str) -> list[RepositoryShare]:
    items = await info.context.loaders.extra.shares_by_repository.load((namespace, repository))
    return [RepositoryShare.from_json(item) for item in items]


@strawberry.type(description="A repository in a list of shared repositories.")
class SharedRepository:
    repository: Repository
    owner_account: str = strawberry.field(description="The account owning the repository.")
    is_valid: bool | None = strawberry.field(description="Whether the share is still valid "
                                             "(THIRDPARTY lists); null in SELF lists.")


@strawberry.type
# Not a Node: a list item pairs a repository with its share state.
class SharedRepositoryConnection(
    relay.Connection[SharedRepository]  # type: ignore[type-var]
):
    nodes: list[SharedRepository] = strawberry.field(description=NODES_DOC)
    total_count: int = strawberry.field(description="Matching repositories in all pages.")


@strawberry.input(description="Narrow a shared repository list; all criteria must match.")
class SharedRepositoryFilter:
    namespace: str | None = strawberry.field(default=None, description="Organization, exact.")
    name: str | None = strawberry.field(default=None, description="Substring of the name.")
    owner_account: str | None = strawberry.field(default=None, description="Owner, exact.")
    is_valid: bool | None = strawberry.field(
        default=None, description="THIRDPARTY lists only valid shares unless this is false; "
        "in SELF lists, repositories with at least one share in this state."
    )


@strawberry.enum
class SharedRepositoryOrderField(Enum):
    UPDATED_AT = "updated_at"
    NAME = "name"
    TAG_COUNT = "tag_count"
    NAMESPACE = "namespace"
    OWNER_ACCOUNT = "domain_name"


@strawberry.input
class SharedRepositoryOrder:
    field: SharedRepositoryOrderField
    direction: OrderDirection = OrderDirection.ASC


def _shared_node(center: ShareCenter) -> Any:
    def node(item: Json) -> SharedRepository:
        valid = bool(item.get("status")) if center is ShareCenter.THIRDPARTY else None
        return SharedRepository(repository=Repository.from_json(cast(RepositoryJson, item)),
                                owner_account=item.get("domain_name", ""), is_valid=valid)

    return node


def shared_query(center: ShareCenter, filter: SharedRepositoryFilter | None,
                 order_by: SharedRepositoryOrder | None, offset: int, limit: int
                 ) -> calls.SharedQuery:
    f = filter or SharedRepositoryFilter()
    return calls.SharedQuery(
        center=cast(str, center.value), namespace=f.namespace and check_namespace(f.namespace),
        name=f.name, domain_name=f.owner_account, status=f.is_valid,
        order_column=order_by.field.value if order_by else None,
        order_type=order_by.direction.value if order_by else None,
        offset=offset, limit=max(limit, 1),  # the backend refuses limit 0
    )


@strawberry.type
class SharingQueries:
    @strawberry.field(description="Repositories shared by (SELF) or with (THIRDPARTY) the "
                      "caller's account.")
    async def shared_repositories(
        self, info: Info, center: ShareCenter, filter: SharedRepositoryFilter | None = None,
        order_by: SharedRepositoryOrder | None = None, first: int | None = None,
        after: str | None = None,
    ) -> SharedRepositoryConnection:
        offset, limit = page_window(first, after)
        query = shared_query(center, filter, order_by, offset, limit)
        page = await info.context.loaders.extra.shared_page_by_query.load((query,))
        return build_connection(SharedRepositoryConnection, page, limit, _shared_node(center))

    @strawberry.field(description="Whether the repository is shared with the account "
                      "(members of the organization only).")
    async def share_exists(self, info: Info, namespace: str, repository: str, account: str
                           ) -> bool:
        return await share_or_none(info, namespace, repository, account) is not None


@strawberry.input
class CreateShareInput:
    namespace: str
    repository: str
    account: str = strawberry.field(description="The account to share with, by name.")
    permit: SharePermit = SharePermit.READ
    deadline: str = strawberry.field(default=FOREVER, description="`forever` or RFC 3339.")
    description: str = ""


@strawberry.input(description="Fields left out keep their value.")
class UpdateShareInput:
    namespace: str
    repository: str
    account: str
    permit: SharePermit | None = None
    deadline: str | None = None
    description: str | None = None


async def _update_body(info: Info, input: UpdateShareInput) -> Json:
    """PATCH needs `permit` and `deadline` (5.3), so absent ones come from the record."""
    current: Json = {}
    if input.permit is None or input.deadline is None or input.description is None:
        ctx = info.context
        current = await calls.get_share(ctx.client, ctx.caller, input.namespace,
                                        input.repository, input.account)
    return {
        "permit": input.permit.value if input.permit else current.get("permit", "read"),
        "deadline": input.deadline if input.deadline is not None
        else current.get("deadline", FOREVER),
        "description": input.description if input.description is not None
        else current.get("description", ""),
    }


async def _reloaded(info: Info, namespace: str, repository: str, account: str
                    ) -> RepositoryShare:
    info.context.loaders.forget()
    share = await share_or_none(info, namespace, repository, account)
    if share is None:  # deleted between the change and this read
        raise UserInputError("the share vanished")
    return share


@strawberry.type
class SharingMutations:
    @strawberry.mutation(description="Share a repository with another account (needs manage "
                         "on the organization); CONFLICT if already shared with it.")
    async def create_share(self, info: Info, input: CreateShareInput) -> RepositoryShare:
        ctx = info.context
        ns, repo = check_namespace(input.namespace), check_repository(input.repository)
        body = {"access_domain": input.account, "permit": input.permit.value,
                "deadline": input.deadline, "description": input.description}
        await calls.create_share(ctx.client, ctx.caller, ns, repo, body)
        return await _reloaded(info, ns, repo, input.account)

    @strawberry.mutation(description="Change a share's deadline, permit or description.")
    async def update_share(self, info: Info, input: UpdateShareInput) -> RepositoryShare:
        ctx = info.context
        ns, repo = check_namespace(input.namespace), check_repository(input.repository)
        body = await _update_body(info, input)
        await calls.update_share(ctx.client, ctx.caller, ns, repo, input.account, body)
        return await _reloaded(info, ns, repo, input.account)

    @strawberry.mutation(description="End a share; returns its global id.")
    async def delete_share(self, info: Info, namespace: str, repository: str, account: str
                           ) -> relay.GlobalID:
        ctx = info.context
        ns, repo = check_namespace(namespace), check_repository(repository)
        await calls.delete_share(ctx.client, ctx.caller, ns, repo, account)
        ctx.loaders.forget()
        return relay.GlobalID("RepositoryShare", share_key(ns, repo, account))

    @strawberry.mutation(description="Make a repository public (anyone may pull) or private.")
    async def set_repository_visibility(
        self, info: Info, namespace: str, name: str, is_public: bool
    ) -> Repository:
        ctx = info.context
        ns, repo = check_namespace(namespace), check_repository(name)
        await ctx.client.update_repository(ctx.caller, ns, repo, {"is_public": is_public})
        ctx.loaders.forget()
        return await _required_repository(info, ns, repo)


async def _required_repository(info: Info, namespace: str, name: str) -> Repository:
    repository = await repository_or_none(info, namespace, name, True)
    assert repository is not None  # required=True raises NotFound instead
    return repository
