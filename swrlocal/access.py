"""The one authorization decision, used by the Manage API and the registry alike.

Permission levels follow the contract: 7 manage, 3 edit (push, delete tags), 1 read (pull, list),
0 nothing. A repository's level is the best of its organization's level for the caller, read
access when the repository is public, and read access through a valid share with the caller's
account.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from swrlocal.clock import parse_rfc3339
from swrlocal.db import Database, Row
from swrlocal.identity import Principal

MANAGE = 7
EDIT = 3
READ = 1
NONE = 0


def namespace_level(db: Database, principal: Principal, namespace: Row) -> int:
    if principal.domain_id == namespace["domain_id"] and principal.is_admin:
        return MANAGE
    row = db.one(
        "SELECT auth FROM namespace_access WHERE namespace_id = ? AND user_id = ?",
        (namespace["id"], principal.user_id),
    )
    return int(row["auth"]) if row else NONE


def share_is_valid(deadline: str, now: datetime) -> bool:
    """A share lasts until 00:00 UTC of the day after its deadline (contract 5.1, 8)."""
    if deadline == "forever":
        return True
    end = parse_rfc3339(deadline)
    next_midnight = end.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return now < next_midnight


def share_is_valid_sql(deadline: str, now: str) -> int:
    return int(share_is_valid(deadline, parse_rfc3339(now)))


def register_sql_functions(db: Database) -> None:
    """Make `swr_share_valid(deadline, now_rfc3339)` available to SQL listings.

    Lists filter on a share's validity in SQL; calling back into `share_is_valid` keeps the one
    rule instead of a second, SQL spelling of it.
    """
    db.conn.create_function("swr_share_valid", 2, share_is_valid_sql, deterministic=True)


def repository_level(
    db: Database, principal: Principal, namespace: Row, repository: Row, now: datetime
) -> int:
    level = namespace_level(db, principal, namespace)
    if level >= READ:
        return level
    if repository["is_public"]:
        return READ
    share = db.one(
        "SELECT deadline FROM shares WHERE repository_id = ? AND access_domain = ?",
        (repository["id"], principal.domain_name),
    )
    if share is not None and share_is_valid(share["deadline"], now):
        return READ
    return NONE
