"""Counts that stop counting: the dashboard's lists and badges at 100,000 rows.

An exact ``COUNT(*)`` reads every matching row (or index entry) on every request; past a
thousand waiting items nobody reads the exact figure. So the badges and the list headers count
at most ``COUNT_CAP`` rows (``SELECT COUNT(*) FROM (... LIMIT cap + 1)``, Django's count of a
sliced queryset) and say "1,000+" beyond.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet

__all__ = [
    "COUNT_CAP",
    "CappedCount",
    "CappedIdPaginator",
    "CappedPaginator",
    "capped_count",
    "capped_counts",
]

COUNT_CAP = 1000


@dataclass(frozen=True, eq=False)
class CappedCount:
    """A count of at most ``cap`` rows: ``value`` (an ``int``, ``cap`` when capped) and whether
    there are more (``capped``). Renders as ``"1,000+"`` when capped, else as its number;
    false when zero; an exact count equals its ``int``."""

    value: int
    capped: bool = False

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CappedCount):
            return (self.value, self.capped) == (other.value, other.capped)
        if isinstance(other, int):
            return not self.capped and self.value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.value, self.capped))

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.capped else str(self.value)

    def __bool__(self) -> bool:
        return self.value > 0

    def __int__(self) -> int:
        return self.value


def capped_count(queryset: QuerySet, cap: int | None = None) -> CappedCount:
    """How many rows ``queryset`` has, counting at most ``cap + 1`` of them (one query);
    ``cap`` defaults to ``COUNT_CAP``."""
    cap = COUNT_CAP if cap is None else cap
    found = queryset.order_by()[: cap + 1].count()
    return CappedCount(min(found, cap), capped=found > cap)


def capped_counts(querysets: dict[str, QuerySet], cap: int | None = None) -> dict[str, CappedCount]:
    """``capped_count`` of each of ``querysets`` (by name) in one query: ``SELECT (SELECT
    COUNT(*) FROM (... LIMIT cap + 1)), (...)``, one round trip for a page's several badges.
    The querysets must use one database. ``{}`` for none, without a query."""
    cap = COUNT_CAP if cap is None else cap
    if not querysets:
        return {}
    aliases = {queryset.db for queryset in querysets.values()}
    if len(aliases) > 1:
        raise ValueError(f"capped_counts needs querysets of one database, not {sorted(aliases)}")
    (alias,) = aliases
    parts, params = [], []
    for i, queryset in enumerate(querysets.values()):
        rows = queryset.order_by()
        if not rows._fields:  # a model queryset: count its keys, not its every column
            rows = rows.values("pk")
        try:
            sql, part_params = rows[: cap + 1].query.get_compiler(using=alias).as_sql()
        except EmptyResultSet:  # .none(), or a filter that can match nothing
            parts.append("0")
            continue
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped_{i})")
        params.extend(part_params)
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        found = cursor.fetchone()
    return {
        name: CappedCount(min(n, cap), capped=n > cap) for name, n in zip(querysets, found, strict=True)
    }


class CappedPaginator(Paginator):
    """A ``Paginator`` whose ``count`` reads at most ``cap + 1`` rows.

    ``cap`` grows to the page asked for (``get_page``, ``page``), so every page stays
    reachable by its number; beyond the cap there is always one more page (``count`` is then
    ``cap + 1``). ``count_label`` and ``num_pages_label`` are what the templates show ("1,000+",
    "50+"). ``cap`` (default ``COUNT_CAP``) must be a multiple of ``per_page``, else
    ``ValueError``.
    """

    def __init__(self, object_list: Any, per_page: int, cap: int | None = None, **kwargs: Any) -> None:
        cap = COUNT_CAP if cap is None else cap
        if cap % per_page:
            raise ValueError(f"cap ({cap}) must be a multiple of per_page ({per_page})")
        super().__init__(object_list, per_page, **kwargs)
        self.cap = self.first_cap = cap

    def validate_number(self, number: Any) -> int:
        if "count" not in self.__dict__:  # before counting: make the count reach that page
            try:
                wanted = int(number)
            except (TypeError, ValueError):
                wanted = 1
            if wanted > 0:
                self.cap = max(self.cap, wanted * self.per_page)
        return super().validate_number(number)

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.cap + 1].count()

    @property
    def capped_total(self) -> CappedCount:
        """The list's length as ``capped_count`` with the paginator's first cap would say it
        (the count reads at least that far, however far ``cap`` grew): a badge of the same list
        need not count again."""
        return CappedCount(min(self.count, self.first_cap), capped=self.count > self.first_cap)

    @property
    def count_label(self) -> str:
        return f"{self.cap:,}+" if self.count > self.cap else str(self.count)

    @property
    def num_pages_label(self) -> str:
        return f"{self.num_pages - 1:,}+" if self.count > self.cap else str(self.num_pages)


class CappedIdPaginator(CappedPaginator):
    """A ``CappedPaginator`` over a list's primary keys (``object_list``: an ordered
    ``values_list("pk", flat=True)``) that counts and pages with one query: it reads the first
    ``cap + 1`` ids in order (an index-only walk when the order is an index's), so ``count`` is
    how many it got and a page is a slice of them. The page's ``object_list`` is its ids; the
    caller reads those rows by primary key.

    For a search the matches are found, sorted and cut once instead of twice (the count and
    the page each ran the search)."""

    @cached_property
    def ids(self) -> list[Any]:
        """The first ``cap + 1`` ids (after ``validate_number`` has grown ``cap``)."""
        return list(self.object_list[: self.cap + 1])

    @cached_property
    def count(self) -> int:
        return len(self.ids)

    def page(self, number: Any) -> Any:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(self.ids[bottom : bottom + self.per_page], number, self)
