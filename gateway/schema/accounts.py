"""Accounts: `viewer` (the caller, its accelerator addresses) and organization permissions."""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.backend import manage_extra as calls
from gateway.backend.errors import NotFound
from gateway.schema.errors import UserInputError, check_namespace
from gateway.schema.organizations import Organization, Permission
from gateway.schema.scalars import Long
from gateway.schema.types import Info

_LEVELS = {p.value: p for p in Permission}


@strawberry.type(description="Pull-through accelerator addresses of the caller's account.")
class Accelerator:
    dockerhub: str = strawberry.field(description="Mirror of Docker Hub, `host/prefix`.")
    gcr: str = strawberry.field(description="Mirror of gcr.io, `host/prefix`.")

    @strawberry.field(description="Pulls of Docker Hub images through the accelerator.")
    async def pull_count(self, info: Info) -> Long:
        overview = await info.context.loaders.extra.mirror_overview.load(())
        return int(overview.get("download_times", 0))


@strawberry.type(description="The calling user and its account.")
class Viewer:
    user_id: str
    user_name: str
    account_id: str = strawberry.field(description="The account (domain) id.")
    account_name: str = strawberry.field(description="The account (domain) name; shares "
                                         "name accounts by this.")
    is_account_admin: bool = strawberry.field(description="Holds manage on every organization "
                                              "of the account.")

    @strawberry.field(description="Accelerator addresses; only the caller's own account.")
    async def accelerator(self, info: Info) -> Accelerator:
        data = await info.context.loaders.extra.accelerator_by_account.load((self.account_id,))
        return Accelerator(dockerhub=data.get("dockerhub_accelerator", ""),
                           gcr=data.get("gcr_accelerator", ""))


@strawberry.type(description="A user's permission on an organization.")
class UserPermission:
    user_id: str
    user_name: str
    permission: Permission

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UserPermission:
        return cls(user_id=data.get("user_id", ""), user_name=data.get("user_name", ""),
                   permission=_LEVELS.get(data.get("auth", 0), Permission.NONE))


@strawberry.type(description="Who holds which permission on an organization.")
class OrganizationPermissions:
    viewer: UserPermission = strawberry.field(description="The caller's own level.")
    others: list[UserPermission] = strawberry.field(
        description="Permissions granted to other users of the account, by user name."
    )


async def load_permissions(info: Info, namespace: str) -> OrganizationPermissions:
    data = await info.context.loaders.extra.permissions_by_namespace.load((namespace,))
    return OrganizationPermissions(
        viewer=UserPermission.from_json(data.get("self_auth") or {}),
        others=[UserPermission.from_json(item) for item in data.get("others_auths") or []],
    )


@strawberry.type
class AccountQueries:
    @strawberry.field(description="The caller: user, account, accelerator.")
    async def viewer(self, info: Info) -> Viewer:
        data = await info.context.loaders.extra.viewer.load(())
        return Viewer(
            user_id=data["user_id"], user_name=data["user_name"],
            account_id=data["domain_id"], account_name=data["domain_name"],
            is_account_admin=bool(data.get("is_admin")),
        )


@strawberry.input(description="One user (by id or name, in the organization's account) and "
                  "a level.")
class OrganizationPermissionInput:
    namespace: str
    user_id: str | None = None
    user_name: str | None = None
    permission: Permission


@strawberry.input(description="The user whose permission ends: by id or by name.")
class RevokeOrganizationPermissionInput:
    namespace: str
    user_id: str | None = None
    user_name: str | None = None


def _entry(input: OrganizationPermissionInput) -> dict[str, Any]:
    if input.user_id is None and input.user_name is None:
        raise UserInputError("give userId or userName")
    entry: dict[str, Any] = {"auth": input.permission.value}
    if input.user_id is not None:
        entry["user_id"] = input.user_id
    if input.user_name is not None:
        entry["user_name"] = input.user_name
    return entry


async def _user_id(info: Info, input: RevokeOrganizationPermissionInput) -> str:
    """The id to revoke; a name is looked up among the organization's grants."""
    if input.user_id is not None:
        return input.user_id
    if input.user_name is None:
        raise UserInputError("give userId or userName")
    ctx = info.context
    data = await calls.get_permissions(ctx.client, ctx.caller, input.namespace)
    # The caller's own grant is `self_auth`, not in `others_auths`; it is found by name too, so
    # the backend (not the lookup) decides whether the caller may revoke it.
    grants = [data.get("self_auth") or {}, *(data.get("others_auths") or [])]
    for item in grants:
        if item.get("user_name") == input.user_name and item.get("user_id"):
            return str(item["user_id"])
    raise NotFound(f"no permission on this organization for user {input.user_name!r}", 404)


async def _changed(info: Info, namespace: str) -> Organization:
    info.context.loaders.forget()
    data = await info.context.loaders.organization_by_name.load(namespace)
    return Organization.from_json(data)


@strawberry.type
class AccountMutations:
    @strawberry.mutation(description="Grant a user of the organization's account a level; "
                         "CONFLICT if the user holds one already. Returns the organization.")
    async def grant_organization_permission(
        self, info: Info, input: OrganizationPermissionInput
    ) -> Organization:
        ctx, ns = info.context, check_namespace(input.namespace)
        await calls.change_permissions(ctx.client, ctx.caller, "POST", ns, [_entry(input)])
        return await _changed(info, ns)

    @strawberry.mutation(description="Change a granted level; NOT_FOUND if none is held.")
    async def update_organization_permission(
        self, info: Info, input: OrganizationPermissionInput
    ) -> Organization:
        ctx, ns = info.context, check_namespace(input.namespace)
        await calls.change_permissions(ctx.client, ctx.caller, "PATCH", ns, [_entry(input)])
        return await _changed(info, ns)

    @strawberry.mutation(description="End a user's permission; NOT_FOUND if none is held.")
    async def revoke_organization_permission(
        self, info: Info, input: RevokeOrganizationPermissionInput
    ) -> Organization:
        ctx, ns = info.context, check_namespace(input.namespace)
        user_id = await _user_id(info, input)
        await calls.change_permissions(ctx.client, ctx.caller, "DELETE", ns, [user_id])
        return await _changed(info, ns)
