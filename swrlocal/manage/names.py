"""Name rules of organizations, repositories and tags (contract 1.4), and the `$` rule.

In URLs a `/` inside a repository name is written `$`; the server decodes percent-escapes first,
then turns `$` back into `/`, and only then validates.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from swrlocal import errors

NAMESPACE_MAX = 64
REPOSITORY_MAX = 128
TAG_MAX = 128

_SEPARATOR = r"(?:\.|_{1,2}|-+)"
_COMPONENT = rf"[a-z0-9]+(?:{_SEPARATOR}[a-z0-9]+)*"
NAMESPACE_RE = re.compile(rf"[a-z][a-z0-9]*(?:{_SEPARATOR}[a-z0-9]+)*")
REPOSITORY_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
# No rule is documented for tags; Docker's reference grammar is the natural one.
TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)

CATEGORIES = (
    "app_server", "linux", "framework_app", "database", "lang", "other", "windows", "arm",
)
DEFAULT_CATEGORY = "other"


def decode_repository(raw: str) -> str:
    """The real repository name behind a URL value: percent-escapes decoded, `$` turned to `/`."""
    return unquote(raw).replace("$", "/")


def encode_repository(name: str) -> str:
    return name.replace("/", "$")


def is_namespace(name: str) -> bool:
    return len(name) <= NAMESPACE_MAX and NAMESPACE_RE.fullmatch(name) is not None


def is_repository(name: str) -> bool:
    return len(name) <= REPOSITORY_MAX and REPOSITORY_RE.fullmatch(name) is not None


def is_tag(name: str) -> bool:
    return TAG_RE.fullmatch(name) is not None


def check_namespace(name: str) -> str:
    if not is_namespace(name):
        raise errors.bad_request(
            f"invalid organization name {name!r}", errors.INVALID_NAMESPACE_NAME
        )
    return name


def check_repository(name: str) -> str:
    if not is_repository(name):
        raise errors.bad_request(
            f"invalid repository name {name!r}", errors.INVALID_REPOSITORY_NAME
        )
    return name


def check_tag(name: str) -> str:
    if not is_tag(name):
        raise errors.bad_request(f"invalid tag name {name!r}")
    return name


def check_category(value: object, code: str = errors.INVALID_PARAMETERS) -> str:
    if not isinstance(value, str) or value not in CATEGORIES:
        raise errors.bad_request(
            f"category must be one of {', '.join(CATEGORIES)}", code
        )
    return value
