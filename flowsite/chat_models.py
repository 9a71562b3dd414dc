"""The chat model of the site's streaming essay example: offline by default, a real one on demand.

``chat_model(topic)`` returns langchain-core's ``GenericFakeChatModel`` answering with a short
essay about ``topic``, streamed word by word with ``TOKEN_DELAY`` seconds between tokens so the
streaming is visible (no API key, no network). ``FLOWSITE_CHAT_MODEL=provider:model`` (e.g.
``openai:gpt-4o-mini``) switches to a real model through ``langchain.chat_models.init_chat_model``
(the provider's package and key must be installed and set).

langchain-core is imported here only, when the example runs: ``import workflows`` does not need it.
"""

from __future__ import annotations

import os
import time
from typing import Any

TOKEN_DELAY = 0.03  # seconds between the fake model's tokens

ESSAY = """\
{Topic} rarely get the attention they deserve. At first glance they seem simple, almost ordinary, \
yet the longer one looks, the more there is to see.

Consider how {topic} fit into the world around them. Each detail answers a need, and each need \
tells a story about the place and the people involved. What looks like chance is usually the \
result of many small decisions.

There is also a lesson in patience here. Understanding {topic} takes time: it asks us to watch \
closely, to ask better questions, and to accept that the first answer is rarely the whole one.

In the end, {topic} remind us that the familiar is full of surprises, if we are willing to look."""


def fake_essay(topic: str) -> str:
    """The fake model's essay about ``topic`` (a few paragraphs)."""
    return ESSAY.format(topic=topic, Topic=topic[:1].upper() + topic[1:])


def chat_model(topic: str) -> Any:
    """A LangChain chat model for one essay about ``topic`` (a new fake one for each call)."""
    configured = os.environ.get("FLOWSITE_CHAT_MODEL", "").strip()
    if configured:
        from langchain.chat_models import init_chat_model

        return init_chat_model(configured)
    return _fake_model_class()(messages=iter([fake_essay(topic)]))


_FAKE: type | None = None


def _fake_model_class() -> type:
    global _FAKE
    if _FAKE is None:
        from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

        class StreamingFakeChatModel(GenericFakeChatModel):
            """``GenericFakeChatModel`` that waits ``TOKEN_DELAY`` seconds between tokens."""

            def _stream(self, *args: Any, **kwargs: Any):
                for chunk in super()._stream(*args, **kwargs):
                    yield chunk
                    time.sleep(TOKEN_DELAY)

        _FAKE = StreamingFakeChatModel
    return _FAKE
