"""URLs of many rows of one view at the cost of one ``reverse``: a list page links each of its
rows (an inbox card links its item twice and its thread), and ``reverse`` costs tens of
microseconds a call (the resolver's lookups, the script prefix, quoting).

``pk_url("reviews:interrupt")`` reverses the view once with the id ``0`` and returns a function
that writes that URL with another id in its place: the same string ``reverse`` gives for an
``int``-converted argument (an integer's digits need no quoting).
"""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

__all__ = ["pk_url"]

PLACEHOLDER = 0


def pk_url(viewname: str) -> Callable[[int], str]:
    """A function ``pk -> URL`` of ``viewname``, whose one positional argument is an ``int``;
    falls back to ``reverse`` per call when the URL does not hold ``/0/`` exactly once (then the
    id's place is not known for sure). Raises ``NoReverseMatch`` as ``reverse`` does."""
    url = reverse(viewname, args=[PLACEHOLDER])
    marker = f"/{PLACEHOLDER}/"
    if url.count(marker) != 1:
        return lambda pk: reverse(viewname, args=[pk])
    head, tail = url.split(marker)
    return lambda pk: f"{head}/{int(pk)}/{tail}"
