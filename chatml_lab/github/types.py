"""Plain records the GitHub client hands to the core (no githubkit types leak out)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class PullInfo:
    """One pull request as the core needs it.

    ``state`` is ``open``, ``closed`` or ``merged``. ``mergeable`` (GitHub's ``mergeable_state``)
    and ``maintainer_can_modify`` are only known from a single-PR look-up, None from a listing.
    ``head_repo`` is None when the head's repository (a fork) was deleted.
    """

    number: int
    url: str
    state: str
    draft: bool
    title: str
    head_ref: str
    head_sha: str
    head_repo: str | None
    head_clone_url: str | None
    base_ref: str
    updated: str
    mergeable: str | None = None
    maintainer_can_modify: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what the ETag cache stores)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PullInfo:
        """The inverse of :meth:`to_json`."""
        return cls(**data)


@dataclass(frozen=True)
class Listing:
    """A repository's pull requests, most recently updated first.

    ``fresh`` is False when GitHub answered 304 (the list is the cached one); ``complete`` is
    False when the page was full, so older PRs may be missing from it.
    """

    pulls: list[PullInfo]
    fresh: bool
    complete: bool


class EtagStore(Protocol):
    """Where validators of conditional requests live (the SQLite store, or memory)."""

    def etag(self, key: str) -> tuple[str, Any] | None:
        """``(etag, payload)`` stored for ``key``."""

    def put_etag(self, key: str, etag: str, payload: Any) -> None:
        """Store the validator and payload of a 200 answer."""


class MemoryEtags:
    """An :class:`EtagStore` in a dict (benchmarks, one-off clients)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, Any]] = {}

    def etag(self, key: str) -> tuple[str, Any] | None:
        """``(etag, payload)`` stored for ``key``."""
        return self._items.get(key)

    def put_etag(self, key: str, etag: str, payload: Any) -> None:
        """Store the validator and payload of a 200 answer."""
        self._items[key] = (etag, payload)
