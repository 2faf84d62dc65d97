"""Registry names, tags and digests.

A registry name is `<namespace>/<repository>` where the repository may itself contain slashes
(`team/app/web` is repository `app/web` of organization `team`). The patterns are the contract's
(section 1.4); tags follow Docker's rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from swrlocal.registry import errors

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_{1,2}|-+)[a-z0-9]+)*"
NAMESPACE_RE = re.compile(r"^[a-z][a-z0-9]*(?:(?:\.|_{1,2}|-+)[a-z0-9]+)*$")
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DIGEST_RE = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
MAX_NAMESPACE = 64
MAX_REPOSITORY = 128


@dataclass(frozen=True)
class RepoName:
    namespace: str
    repository: str

    @property
    def full(self) -> str:
        return f"{self.namespace}/{self.repository}"


def parse_name(name: str) -> RepoName | None:
    """Split and validate a registry name; None when it is not a valid SWR name."""
    namespace, _, repository = name.partition("/")
    if not (0 < len(namespace) <= MAX_NAMESPACE and NAMESPACE_RE.match(namespace)):
        return None
    if not (0 < len(repository) <= MAX_REPOSITORY and REPOSITORY_RE.match(repository)):
        return None
    return RepoName(namespace, repository)


def require_name(name: str) -> RepoName:
    parsed = parse_name(name)
    if parsed is None:
        raise errors.OCIError(
            400, errors.NAME_INVALID, "invalid repository name", {"name": name}
        )
    return parsed


def is_digest(reference: str) -> bool:
    return DIGEST_RE.match(reference) is not None


def require_digest(value: str | None) -> str:
    if value is None or not is_digest(value):
        raise errors.digest_invalid(f"invalid digest {value!r}: expected sha256 or sha512 hex")
    return value


def require_reference(reference: str) -> str:
    """A manifest reference is a digest or a tag."""
    if is_digest(reference) or TAG_RE.match(reference):
        return reference
    if ":" in reference:
        raise errors.digest_invalid(f"invalid digest {reference!r}")
    raise errors.OCIError(400, errors.TAG_INVALID, "invalid tag name", {"tag": reference})
