"""``workflows.value_html``: a value as the HTML people read (what ``{% show_value %}`` writes).

The expected strings are what the former recursive ``includes/value.html`` inclusion tag wrote
for the same values (compared side by side when the renderer moved to Python), less its
trailing newline.
"""

from __future__ import annotations

import pytest
from django.template import engines

from workflows.value_html import value_html

ESSAY = {"essay": "An essay", "action": "Please approve/reject the essay"}


@pytest.mark.parametrize(
    ("value", "html"),
    [
        (None, '<span class="value value-none muted">—</span>'),
        (True, '<span class="value value-bool yes">Yes</span>'),
        (False, '<span class="value value-bool no">No</span>'),
        (1e-7, '<span class="value value-number">0.0000001</span>'),
        ("   ", '<span class="value value-str"></span>'),
        ("short <b>", '<span class="value value-str">short &lt;b&gt;</span>'),
        (
            "line\n\nnext\nthird & <x>",
            '<div class="value value-text"><p>line</p><p>next<br>third &amp; &lt;x&gt;</p></div>',
        ),
        ("x" * 121, f'<div class="value value-text"><p>{"x" * 121}</p></div>'),
        ([], '<span class="value value-none muted">(empty)</span>'),
        ({}, '<span class="value value-none muted">(empty)</span>'),
        (
            ESSAY,
            '<dl class="value value-dict"><dt>Essay</dt><dd><span class="value value-str">An essay'
            '</span></dd><dt>Action</dt><dd><span class="value value-str">Please approve/reject the'
            " essay</span></dd></dl>",
        ),
        (
            {"a_b": 1, "items": [2, {"k": "  v  "}]},
            '<dl class="value value-dict"><dt>A b</dt><dd><span class="value value-number">1</span>'
            '</dd><dt>Items</dt><dd><ol class="value value-list"><li><span class="value '
            'value-number">2</span></li><li><dl class="value value-dict"><dt>K</dt><dd><span '
            'class="value value-str">  v  </span></dd></dl></li></ol></dd></dl>',
        ),
        (  # past MAX_DEPTH (3) a container is JSON
            [[[[1]]]],
            '<ol class="value value-list"><li><ol class="value value-list"><li><ol class="value '
            'value-list"><li><pre class="value value-json">[\n  1\n]</pre></li></ol></li></ol></li></ol>',
        ),
        (
            {"__fs__": "datetime", "v": "2024-01-01"},
            '<span class="value value-tagged" title="datetime">2024-01-01</span>',
        ),
        (
            {"__fs__": "truncated", "v": "abc<", "bytes": 123456, "url": "/x?a=1&b=2"},
            '<div class="value value-truncated"><p class="truncated-note">Shortened from '
            '120.6\xa0KB. <a href="/x?a=1&amp;b=2">The full value →</a></p><div '
            'class="value-preview">abc&lt;…</div></div>',
        ),
        (
            {"__fs__": "truncated", "v": "", "bytes": 0, "url": ""},
            '<div class="value value-truncated"><p class="truncated-note">Shortened.</p><div '
            'class="value-preview">…</div></div>',
        ),
        ({"<k>": "<script>"}, '<dl class="value value-dict"><dt>&lt;k&gt;</dt><dd><span '
         'class="value value-str">&lt;script&gt;</span></dd></dl>'),
    ],
)
def test_value_html(value, html):
    assert value_html(value) == html


def test_depth_counts_levels_already_shown():
    assert value_html([1], depth=3) == '<pre class="value value-json">[\n  1\n]</pre>'


def test_show_value_tag_writes_it_unescaped():
    template = engines["django"].from_string("{% load workflow_display %}<div>{% show_value v %}</div>")
    assert template.render({"v": ESSAY}) == f"<div>{value_html(ESSAY)}</div>"
