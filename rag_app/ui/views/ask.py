"""The Ask page: the chat, suggested questions, the answer streaming in, its source cards, feedback.

Each script run: take a new message, typed or a clicked suggestion (checked, then queued; a typed
one by the chat input's callback, which Streamlit runs before the script, so a message is queued
even when the next one interrupts the run that would have read it) ->
start the first waiting question when nothing is being written -> show the answered turns ->
show the questions waiting and why a message was not taken -> follow the answer being written
(searching / writing state, in a slot above the waiting questions) -> when it ends, move it into
the turns and run again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import streamlit as st

from rag_app.refusal import explain_refusal
from rag_app.types import Answer, Message
from rag_app.ui.chat import AnswerJob, Conversation, Turn, make_stream, question_problem
from rag_app.ui.feedback import FeedbackRecord
from rag_app.ui.sources import answer_markdown, source_cards
from rag_app.ui.views.cards import render_cards
from rag_app.ui.views.context import PageContext

FOUND_ON_REFUSAL = 3  # passages shown under a refusal ("what was found")
SUGGESTED_KEY = "suggested_question"  # session key: the suggestion clicked, asked on the next run
WAITING_CAPTION = "Waiting: answered after the one being written."
CHAT_KEY = "chat_message"  # session key of the chat input's value


def conversation() -> Conversation:
    if "conversation" not in st.session_state:
        st.session_state["conversation"] = Conversation()
    conv: Conversation = st.session_state["conversation"]
    return conv


def render(ctx: PageContext) -> None:
    conv = conversation()
    limits = (ctx.res.config.max_question_chars, ctx.res.config.max_pending)
    st.chat_input("Ask about your documents — 日本語でも English でも", key=CHAT_KEY, on_submit=_take_typed,
                  args=limits)
    take_question(st.session_state.pop(SUGGESTED_KEY, None), *limits)
    conv.finish()
    conv.start_next(lambda q, history: _job(ctx, q, history), ctx.res.config.history_turns)
    if not conv.turns and conv.job is None:
        st.caption("Ask a question: the answer cites its sources as [n]; each [n] opens its passage below the answer.")
        _suggestions(ctx)
    for turn in conv.turns:
        _render_turn(ctx, turn)
    writing = st.container() if conv.job is not None and conv.current is not None else None
    for q in conv.pending:  # below the answer being written, shown while it is written
        with st.chat_message("user"):
            st.markdown(q)
            st.caption(WAITING_CAPTION)
    if conv.notice:
        st.warning(conv.notice)
    if writing is not None and conv.job is not None and conv.current is not None:
        with writing:
            _follow(conv.job, conv.current)
        if conv.finish() is not None:
            st.rerun()


def _take_typed(max_chars: int, max_pending: int) -> None:
    """The chat input's ``on_submit``: Streamlit calls it at the start of the next run, before
    the script, so the message is queued even if another message stops that run early."""
    take_question(st.session_state.get(CHAT_KEY), max_chars, max_pending)


def take_question(question: str | None, max_chars: int, max_pending: int) -> None:
    """Queue ``question`` (None: nothing sent) in this session's conversation, or say why not."""
    if question is None:
        return
    conv = conversation()
    problem = question_problem(question, max_chars)
    if problem:
        conv.notice = problem
    else:
        conv.submit(question.strip(), max_pending)


def _suggestions(ctx: PageContext) -> None:
    """Sample questions about documents this user may see (inside the filters); a click asks one."""
    picks = ctx.res.questions.suggest(ctx.res.library.visible(ctx.groups), ctx.filters)
    if not picks:
        return
    st.caption("Suggested questions:")
    cols = st.columns(2)
    for i, q in enumerate(picks):
        cols[i % 2].button(q.question, key=f"suggest-{i}", on_click=_choose, args=(q.question,))


def _choose(question: str) -> None:
    st.session_state[SUGGESTED_KEY] = question


def _job(ctx: PageContext, question: str, history: list[Message]) -> AnswerJob:
    source = make_stream(ctx.rag, question, groups=ctx.groups, history=history, filters=ctx.filters)
    return AnswerJob(question, source).start(ctx.res.executor)


def _follow(job: AnswerJob, turn: Turn) -> None:
    with st.chat_message("user"):
        st.markdown(turn.question)
    with st.chat_message("assistant"):
        status = st.status("Searching the documents…", expanded=False)
        t0 = time.perf_counter()
        label = "Searching the documents…"

        def tick() -> None:  # nothing new for a poll: show the time so far (a local model takes seconds)
            status.update(label=f"{label} {time.perf_counter() - t0:.0f} s")

        def deltas() -> Iterator[str]:
            nonlocal label
            for d in job.follow(tick=tick):
                if label != "Writing the answer…":
                    label = "Writing the answer…"
                    status.update(label=label)
                yield d

        st.write_stream(deltas())
        job.wait()
        done = "Could not answer" if job.error else f"Answered in {time.perf_counter() - t0:.1f} s"
        status.update(label=done, state="error" if job.error else "complete")


def _render_turn(ctx: PageContext, turn: Turn) -> None:
    with st.chat_message("user"):
        st.markdown(turn.question)
    with st.chat_message("assistant"):
        if turn.error is not None or turn.answer is None:
            st.error(f"The question could not be answered: {turn.error}")
            return
        ans = turn.answer
        if ans.refused:
            _render_refusal(ctx, turn, ans)
        else:
            st.markdown(answer_markdown(ans.text, turn.id, [c.n for c in ans.citations]))
            if ans.rewritten_question:
                st.caption(f"Searched as: {ans.rewritten_question}")
            render_cards(ctx, source_cards(ans), turn.id)
        _feedback(ctx, turn, ans)


def _render_refusal(ctx: PageContext, turn: Turn, ans: Answer) -> None:
    st.warning(f"**Not answered.** {explain_refusal(ans.refusal_reason)}")
    st.markdown(ans.text)
    found = source_cards(ans)[:FOUND_ON_REFUSAL]
    if not found:
        return
    st.caption("What was found (not enough to answer from):")
    render_cards(ctx, found, turn.id)


def _feedback(ctx: PageContext, turn: Turn, ans: Answer) -> None:
    value = st.feedback("thumbs", key=f"fb-{turn.id}")
    rating = None if value is None else ("up" if value == 1 else "down")
    record: FeedbackRecord | None = turn.feedback
    if rating is not None and (record is None or record.rating != rating):
        record = (FeedbackRecord.new(user=ctx.user.name, groups=ctx.groups, answer=ans,
                                     history=_history_before(turn), rating=rating)
                  if record is None else record.revised(rating=rating))
        ctx.res.feedback.append(record)
        turn.feedback = record
    if record is None:
        return
    with st.expander("Add a comment or a corrected answer", expanded=False), \
            st.form(key=f"fb-form-{turn.id}", clear_on_submit=False):
        comment = st.text_area("Comment (optional)", value=record.comment, key=f"fb-c-{turn.id}")
        corrected = st.text_area("Corrected answer (optional)", value=record.corrected_answer,
                                 key=f"fb-a-{turn.id}")
        if st.form_submit_button("Save feedback"):
            turn.feedback = record = record.revised(comment=comment, corrected_answer=corrected)
            ctx.res.feedback.append(record)
            st.success("Saved: thank you.")
    st.caption(f"Feedback saved ({record.rating}).")


def _history_before(turn: Turn) -> list[Message]:
    conv = conversation()
    idx = next((i for i, t in enumerate(conv.turns) if t.id == turn.id), len(conv.turns))
    before = Conversation(turns=conv.turns[:idx])
    return before.history()
