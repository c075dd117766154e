"""The Ask page: the chat, the answer streaming in, its source cards, feedback.

Each script run: take a new message (checked, then queued) -> start the first waiting question
when nothing is being written -> show the answered turns -> follow the answer being written
(searching / writing state) -> when it ends, move it into the turns and run again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import streamlit as st

from rag_app.types import Answer, Message
from rag_app.ui.chat import AnswerJob, Conversation, Turn, make_stream, question_problem
from rag_app.ui.feedback import FeedbackRecord
from rag_app.ui.refusals import explain_refusal
from rag_app.ui.sources import answer_markdown, source_cards
from rag_app.ui.views.cards import render_cards
from rag_app.ui.views.context import PageContext

FOUND_ON_REFUSAL = 3  # passages shown under a refusal ("what was found")


def conversation() -> Conversation:
    if "conversation" not in st.session_state:
        st.session_state["conversation"] = Conversation()
    conv: Conversation = st.session_state["conversation"]
    return conv


def render(ctx: PageContext) -> None:
    conv = conversation()
    question = st.chat_input("Ask about your documents — 日本語でも English でも")
    if question is not None:
        problem = question_problem(question, ctx.res.config.max_question_chars)
        refused = problem or conv.submit(question.strip(), ctx.res.config.max_pending)
        if refused:
            st.warning(refused)
    conv.finish()
    conv.start_next(lambda q, history: _job(ctx, q, history), ctx.res.config.history_turns)
    if not conv.turns and conv.job is None:
        st.caption("Ask a question: the answer cites its sources as [n]; each [n] opens its passage below the answer.")
    for turn in conv.turns:
        _render_turn(ctx, turn)
    if conv.job is not None and conv.current is not None:
        _follow(conv.job, conv.current)
        for q in conv.pending:
            with st.chat_message("user"):
                st.markdown(q)
                st.caption("Waiting: answered after the one being written.")
        if conv.finish() is not None:
            st.rerun()


def _job(ctx: PageContext, question: str, history: list[Message]) -> AnswerJob:
    source = make_stream(ctx.rag, question, groups=ctx.groups, history=history, filters=ctx.filters)
    return AnswerJob(question, source).start(ctx.res.executor)


def _follow(job: AnswerJob, turn: Turn) -> None:
    with st.chat_message("user"):
        st.markdown(turn.question)
    with st.chat_message("assistant"):
        status = st.status("Searching the documents…", expanded=False)
        t0 = time.perf_counter()

        def deltas() -> Iterator[str]:
            writing = False
            for d in job.follow():
                if not writing:
                    writing = True
                    status.update(label="Writing the answer…")
                yield d

        st.write_stream(deltas())
        job.wait()
        label = "Could not answer" if job.error else f"Answered in {time.perf_counter() - t0:.1f} s"
        status.update(label=label, state="error" if job.error else "complete")


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
