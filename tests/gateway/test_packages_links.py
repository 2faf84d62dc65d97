"""Signed download links: bound to one file, expiring, unreadable without the key."""

from __future__ import annotations

import time

from gateway.downloads import LINK_SECONDS, DownloadLinks, download_path, download_url

REF = ("org", "tools/cli", "1.0.0", "docs/api/ref.txt")


def test_a_link_opens_for_its_file_only() -> None:
    links = DownloadLinks()
    signed = links.sign(REF, "swr_secret")

    assert links.open(signed, REF) == "swr_secret"
    assert links.open(signed, (*REF[:3], "docs/api/other.txt")) is None
    assert links.open(signed, ("org", "tools/cli", "2.0.0", REF[3])) is None
    assert "swr_secret" not in signed  # encrypted, not only signed


def test_a_link_expires() -> None:
    links = DownloadLinks()
    old = links.sign(REF, "swr_secret", issued_at=int(time.time()) - LINK_SECONDS - 5)
    recent = links.sign(REF, "swr_secret", issued_at=int(time.time()) - LINK_SECONDS + 60)

    assert links.open(old, REF) is None
    assert links.open(recent, REF) == "swr_secret"


def test_another_key_cannot_open_a_link() -> None:
    signed = DownloadLinks().sign(REF, "swr_secret")

    assert DownloadLinks().open(signed, REF) is None
    assert DownloadLinks().open("not-a-token", REF) is None


def test_shared_key_between_replicas() -> None:
    key = "x7Yc3m3y0bN0QkqH3Yz9J1n0c0lZ6u2m8G5rX2fFQmE="
    assert DownloadLinks(key).open(DownloadLinks(key).sign(REF, "t"), REF) == "t"


def test_paths() -> None:
    assert download_path("org", "tools/cli", "1.0.0", "/docs/api", "ref.txt") == (
        "/download/packages/org/tools$cli/1.0.0/docs/api/ref.txt")
    assert download_path("org", "p", "1 0", "/", "a b.txt") == (
        "/download/packages/org/p/1%200/a%20b.txt")
    assert download_url(DownloadLinks(), None, "org", "p", "1", "/", "a") == (
        "/download/packages/org/p/1/a")
