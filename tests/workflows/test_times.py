"""``workflows.times.shown_time`` gives what the template filters it replaces give."""

from __future__ import annotations

from datetime import timedelta

from django.template import engines
from django.utils import timezone

from workflows.times import shown_time


def test_shown_time_matches_the_template_filters():
    value = timezone.now() - timedelta(days=3, hours=2, minutes=5)
    template = engines["django"].from_string(
        "{% load humanize %}{{ v|date:'c' }}|{{ v }}|{{ v|naturaltime }}"
    )
    shown = shown_time(value)
    assert f"{shown.iso}|{shown.title}|{shown.ago}" == template.render({"v": value})
    assert shown.ago == "3\xa0days, 2\xa0hours ago"
