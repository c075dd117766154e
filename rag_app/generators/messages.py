"""Conversions of ``Message`` sequences into the shapes chat APIs take."""

from __future__ import annotations

from collections.abc import Sequence

from rag_app.types import Message

ROLES = ("system", "user", "assistant")


def to_chat_dicts(messages: Sequence[Message]) -> list[dict[str, str]]:
    """``[{"role", "content"}]`` in order (OpenAI / llama.cpp / chat-template shape)."""
    if not messages:
        raise ValueError("messages is empty: give at least one user message")
    out: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        if m.role not in ROLES:
            raise ValueError(f"messages[{i}].role is {m.role!r}; allowed: {', '.join(ROLES)}")
        out.append({"role": m.role, "content": m.content})
    return out


def split_system(messages: Sequence[Message]) -> tuple[str, list[dict[str, str]]]:
    """(system text, the other turns) — Anthropic takes the system prompt apart from the turns.
    Several system messages are joined with a blank line, in order."""
    dicts = to_chat_dicts(messages)
    system = "\n\n".join(d["content"] for d in dicts if d["role"] == "system")
    turns = [d for d in dicts if d["role"] != "system"]
    if not turns:
        raise ValueError("messages hold only system text: add a user message")
    return system, turns


def plain_prompt(messages: Sequence[Message]) -> str:
    """A role-labelled transcript ending in ``Assistant:``, for models without a chat template."""
    lines = [f"{d['role'].capitalize()}: {d['content']}" for d in to_chat_dicts(messages)]
    return "\n\n".join([*lines, "Assistant:"])
