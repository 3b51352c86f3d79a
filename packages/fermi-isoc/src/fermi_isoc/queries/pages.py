"""One page of a listing: its rows, the total the database counted, and where it starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

#: rows of a listing page unless the caller asks for another size
DEFAULT_LIMIT = 50
#: the largest page a caller may ask for
MAX_LIMIT = 1000


def clamp(limit: int | None, offset: int | None) -> tuple[int, int]:
    """``(limit, offset)`` within bounds: limit in ``1..MAX_LIMIT`` (default 50), offset ``>= 0``."""
    limit = DEFAULT_LIMIT if limit is None else max(1, min(int(limit), MAX_LIMIT))
    return limit, max(0, int(offset or 0))


@dataclass(frozen=True)
class Page(Generic[T]):
    """Rows ``offset .. offset + len(items)`` of a listing of ``total`` rows.

    Attributes
    ----------
    items
        The rows of this page, in the listing's order.
    total
        How many rows the whole listing has (counted by the database).
    limit
        The page size asked for.
    offset
        Index of the first row of this page in the listing.
    """

    items: list[T]
    total: int
    limit: int
    offset: int

    @property
    def has_previous(self) -> bool:
        """True when rows come before this page."""
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        """True when rows come after this page."""
        return self.offset + len(self.items) < self.total

    @property
    def previous_offset(self) -> int:
        """Offset of the page before this one (0 at the start)."""
        return max(0, self.offset - self.limit)

    @property
    def next_offset(self) -> int:
        """Offset of the page after this one."""
        return self.offset + self.limit
