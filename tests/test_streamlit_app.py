"""The page through Streamlit's AppTest: asking, streaming, citations, refusal, sign-in and
permissions, settings, feedback, the admin pages. A tiny index (hashing embedder, extractive
generator) built here keeps each run to seconds."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("streamlit", reason='the page needs streamlit: pip install -e ".[ui]"')
pytest.importorskip("argon2", reason='the users file needs argon2-cffi: pip install -e ".[ui]"')

from streamlit.testing.v1 import AppTest

from rag_app import RAG, AnswerEvent
from rag_app.ui.chat import AnswerJob, Conversation
from rag_app.ui.feedback import read_feedback
from rag_app.ui.resources import PageResources
from rag_app.ui.users import UsersFile
from tests.rag_app.ui.ui_corpus import (
    BUDGET_QUESTION,
    LEAVE_QUESTION,
    PDF_QUESTION,
    RESTRICTED_QUESTION,
    RESTRICTED_TERM,
    VPN_QUESTION,
    build_index,
)

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
SECRETS = ("Zephyrine retention bonus for engineers is", "12 percent", "bonus_plan", "Bonus plan", "Marmoset",
           "finance/budget")
RESTRICTED_WORDS = (*SECRETS, RESTRICTED_TERM, "Marmoset", "stock option")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_index(tmp_path_factory.mktemp("page"))


@pytest.fixture
def env(tmp_path: Path, corpus: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    _, index = corpus
    paths = {"index": index, "users": tmp_path / "users.jsonl", "feedback": tmp_path / "feedback.jsonl",
             "uploads": tmp_path / "uploads", "reports": tmp_path / "reports"}
    for var, key in (("RAGQA_INDEX", "index"), ("RAGQA_USERS", "users"), ("RAGQA_FEEDBACK", "feedback"),
                     ("RAGQA_UPLOADS", "uploads"), ("RAGQA_REPORTS", "reports")):
        monkeypatch.setenv(var, str(paths[key]))
    monkeypatch.setenv("RAGQA_EMBEDDER", "hashing")
    monkeypatch.setenv("RAGQA_GENERATOR", "extractive")
    yield paths


def _texts(node: Any) -> Iterator[str]:
    for attr in ("value", "label", "body", "options", "caption"):
        v = getattr(node, attr, None) if not callable(getattr(node, attr, None)) else None
        if isinstance(v, str):
            yield v
        elif isinstance(v, list | tuple):
            yield from (str(x) for x in v)
    proto = getattr(node, "proto", None)
    if proto is not None and getattr(node, "type", "") == "image":
        yield " ".join(str(i.caption) for i in proto.imgs)
    for child in getattr(node, "children", {}).values():
        yield from _texts(child)


def page_text(at: AppTest) -> str:
    """Everything the page shows: text, labels, options, captions."""
    return "\n".join(_texts(at._tree))


def start(timeout: int = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    return at


def thumbs(at: AppTest) -> Any:
    """The first answer's thumbs widget (st.feedback)."""
    return at.get("feedback")[0]


def add_users(path: Path) -> None:
    users = UsersFile(path)
    users.add("aiko", "aiko-password", ["hr"], admin=True)
    users.add("bob", "bob-password", [])


def test_public_user_asks_and_reads_the_cited_pdf_page(env: dict[str, Path]) -> None:
    at = start()
    assert "you are the **public user**" in at.info[0].value
    ask(at, PDF_QUESTION)
    user_msg, answer_msg = at.chat_message
    assert user_msg.markdown[0].value == PDF_QUESTION
    answer_md = answer_msg.markdown[0].value
    assert "four hours" in answer_md and "[\\[1\\]](#src-" in answer_md  # the [1] is a link to its card
    anchor = answer_md.split("(#", 1)[1].split(")", 1)[0]
    assert any(f'id="{anchor}"' in m.value for m in answer_msg.markdown)
    card = next(e for e in at.expander if e.label.startswith("[1]"))
    assert card.label.endswith("— page 2")
    assert any("<mark>The Kestrel backup window lasts four hours each night.</mark>" in m.value for m in card.markdown)
    images = card.get("image")
    assert images and "Page 2 of 2 — the cited passage is highlighted" in page_text(at)
    assert any(getattr(b, "label", None) == "Download the original" for b in card.get("download_button"))


def test_refusal_says_why_and_shows_what_was_found(env: dict[str, Path]) -> None:
    at = ask(start(), "How do I bake a sourdough loaf with rye flour?")
    assert "Not answered." in at.warning[0].value
    assert "never mention" in at.warning[0].value or "do not answer" in at.warning[0].value
    assert "What was found" in page_text(at)


def test_bad_questions_get_a_message_and_the_page_goes_on(env: dict[str, Path]) -> None:
    at = ask(start(), "   ")
    assert "The question is empty" in at.warning[0].value
    ask(at, "x" * 20_000)
    assert "20,000 characters long" in at.warning[0].value
    ask(at, PDF_QUESTION)
    assert "four hours" in page_text(at)


def test_follow_ups_carry_the_conversation(env: dict[str, Path]) -> None:
    at = ask(start(), PDF_QUESTION)
    ask(at, "And how often are restores tested?")
    assert len(at.chat_message) == 4
    assert "every quarter" in at.chat_message[3].markdown[0].value


def test_sign_in_and_a_user_without_the_group_never_sees_the_restricted_document(env: dict[str, Path]) -> None:
    add_users(env["users"])
    at = start()
    assert at.chat_input.len == 0 and "Sign in" in page_text(at)  # nothing is asked before signing in
    sign_in(at, "bob", "wrong password")
    assert "Wrong user name or password." in at.error[0].value
    sign_in(at, "bob", "bob-password")
    ask(at, RESTRICTED_QUESTION)
    folders = at.sidebar.selectbox(key="f_folder").options
    assert "finance" not in folders and "hr" in folders
    shown = page_text(at)
    assert not [s for s in SECRETS if s in shown], shown
    at.sidebar.radio(key="page").set_value("Search").run()
    at.text_input(key="search_query").input("retention bonus project budget FY2026 yen")
    next(b for b in at.button if b.label == "Search").click().run()
    shown = page_text(at)
    assert not [s for s in SECRETS if s in shown], shown
    assert "Documents" not in at.sidebar.radio(key="page").options  # not an admin


def test_a_user_with_the_group_gets_the_restricted_answer_and_its_file(env: dict[str, Path]) -> None:
    add_users(env["users"])
    at = sign_in(start(), "aiko", "aiko-password")
    assert "Signed in as **aiko** (admin)" in page_text(at)
    ask(at, RESTRICTED_QUESTION)
    assert "12 percent" in at.chat_message[1].markdown[0].value
    card = next(e for e in at.expander if e.label.startswith("[1]"))
    assert card.label == "[1] Bonus plan" and card.get("download_button")
    at.sidebar.radio(key="page").set_value("Search").run()
    at.text_input(key="search_query").input("retention bonus project budget FY2026 yen")
    next(b for b in at.button if b.label == "Search").click().run()
    assert "Bonus plan" in page_text(at) and "Marmoset" not in page_text(at)  # hr, not finance
    at.sidebar.radio(key="page").set_value("Ask").run()
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert "Sign in" in page_text(at) and at.chat_input.len == 0


def test_a_users_file_with_a_bad_line_still_signs_the_others_in(env: dict[str, Path]) -> None:
    add_users(env["users"])
    with open(env["users"], "a", encoding="utf-8") as f:
        f.write("{oops\n")
    at = start()
    assert "line 4: not valid JSON" in at.warning[0].value
    sign_in(at, "bob", "bob-password")
    assert "Signed in as **bob**" in page_text(at)


def test_feedback_is_written_with_comment_and_corrected_answer(env: dict[str, Path]) -> None:
    at = ask(start(), PDF_QUESTION)
    thumbs(at).set_value(0).run()
    (rec,) = read_feedback(env["feedback"]).records
    assert (rec.rating, rec.user, rec.question) == ("down", "public", PDF_QUESTION)
    assert rec.answer.citations[0].source == "it/backup.pdf" and rec.context_chunk_ids
    at.text_area(key=f"fb-c-{at.session_state['conversation'].turns[0].id}").input("too terse")
    at.text_area(key=f"fb-a-{at.session_state['conversation'].turns[0].id}").input("Four hours, every night [1].")
    next(b for b in at.button if b.label == "Save feedback").click().run()
    (rec,) = read_feedback(env["feedback"]).records
    assert (rec.revision, rec.comment, rec.corrected_answer) == (2, "too terse", "Four hours, every night [1].")
    assert rec.answer.settings["generator"] == "extractive"


def test_settings_reach_the_answer(env: dict[str, Path]) -> None:
    at = start()
    at.sidebar.slider(key="top_k").set_value(1)
    at.sidebar.selectbox(key="mode").set_value("bm25").run()
    ask(at, PDF_QUESTION)
    answer = at.session_state["conversation"].turns[0].answer
    assert len(answer.contexts) == 1 and answer.settings["answer"]["mode"] == "bm25"
    at.sidebar.selectbox(key="gen_kind").set_value("smollm2").run()
    at.sidebar.text_input(key="gen_adapter").input("ft-adapter").run()  # a tuned adapter of the bundled model
    assert not at.sidebar.error
    at.sidebar.selectbox(key="gen_kind").set_value("openai-compatible").run()
    at.sidebar.text_input(key="gen_detail").input("no-url").run()
    assert "expected <model>@http" in at.sidebar.error[0].value  # a bad spec is named, the page keeps answering


def test_admin_uploads_with_errors_per_file_and_nothing_indexed_is_lost(
        env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "own-index"
    shutil.copytree(env["index"], index)
    monkeypatch.setenv("RAGQA_INDEX", str(index))
    monkeypatch.setenv("RAGQA_UI_MAX_UPLOAD_MB", "1")
    add_users(env["users"])
    at = sign_in(start(timeout=120), "aiko", "aiko-password")
    at.sidebar.radio(key="page").set_value("Documents").run()
    before = at.metric[0].value
    at.file_uploader(key="uploads").set_value([
        ("tool.exe", b"MZ", "application/octet-stream"),
        ("huge.md", b"x" * (2 * 2**20), "text/markdown"),
        ("broken.pdf", b"%PDF-1.4 not really", "application/pdf"),
        ("okapi.md", b"# Okapi\n\nThe Okapi room is on floor 7.\n", "text/markdown"),
    ]).run()
    at.text_input(key="upload_groups").input("hr")
    at.button(key="ingest_uploads").click().run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "unsupported file type .exe" in errors and "over the 1 MB upload limit" in errors
    assert "broken.pdf" in errors and "not indexed" in errors
    assert "1 file(s) indexed" in page_text(at)
    assert not (env["uploads"] / "broken.pdf").exists()  # a failed upload is not kept
    at.run()
    assert int(at.metric[0].value) == int(before) + 1  # the upload joined; nothing was lost
    at.selectbox(key="remove_doc").set_value(next(iter(at.selectbox(key="remove_doc").options)))
    at.button(key="remove_go").click().run()
    at.run()
    assert int(at.metric[0].value) == int(before)


def test_admin_feedback_and_reports_pages(env: dict[str, Path]) -> None:
    add_users(env["users"])
    run = env["reports"] / "2026-12-01"
    run.mkdir(parents=True)
    (run / "report.md").write_text("# Answer quality\n\n| system | EM |\n|---|---|\n| extractive | 0.66 |\n",
                                   encoding="utf-8")
    (run / "scores.csv").write_text("system,em\nextractive,0.66\n", encoding="utf-8")
    at = sign_in(start(), "aiko", "aiko-password")
    ask(at, PDF_QUESTION)
    thumbs(at).set_value(1).run()
    at.sidebar.radio(key="page").set_value("Feedback").run()
    assert [m.value for m in at.metric][:3] == ["1", "1", "0"]
    at.sidebar.radio(key="page").set_value("Reports").run()
    assert "# Answer quality" in page_text(at) and at.dataframe
    shutil.rmtree(env["reports"])
    at.run()
    assert "No evaluation reports found" in at.info[0].value
    assert json.loads(env["feedback"].read_text(encoding="utf-8").splitlines()[0])["rating"] == "up"


def suggestions(at: AppTest) -> list[str]:
    return [b.label for b in at.button if str(b.key or "").startswith("suggest-")]


def test_suggested_questions_are_only_of_documents_the_user_may_see(env: dict[str, Path]) -> None:
    add_users(env["users"])
    bob = sign_in(start(), "bob", "bob-password")  # no group: public documents only
    offered = suggestions(bob)
    assert offered and RESTRICTED_QUESTION not in offered and BUDGET_QUESTION not in offered
    assert {PDF_QUESTION, VPN_QUESTION, LEAVE_QUESTION} == set(offered)
    shown = page_text(bob)
    assert not [w for w in RESTRICTED_WORDS if w in shown], shown
    aiko = sign_in(start(), "aiko", "aiko-password")  # hr, not finance
    offered = suggestions(aiko)
    assert RESTRICTED_QUESTION in offered and BUDGET_QUESTION not in offered
    assert "stock option" not in page_text(aiko)  # a sample question without a source is never offered
    langs = aiko.sidebar.multiselect(key="f_langs").options
    assert langs == bob.sidebar.multiselect(key="f_langs").options and {"en", "ja"} <= set(langs)  # not the index's
    aiko.sidebar.selectbox(key="f_folder").set_value("it").run()  # inside the filters only
    assert set(suggestions(aiko)) == {PDF_QUESTION, VPN_QUESTION}


def test_a_clicked_suggestion_is_asked_and_answered(env: dict[str, Path]) -> None:
    at = start()
    next(b for b in at.button if b.label == PDF_QUESTION).click().run()
    assert not at.exception, at.exception
    user_msg, answer_msg = at.chat_message
    assert user_msg.markdown[0].value == PDF_QUESTION and "four hours" in answer_msg.markdown[0].value
    assert suggestions(at) == []  # offered on an empty conversation only


def _held_conversation(env: dict[str, Path], pending: list[str], pool: ThreadPoolExecutor,
                       gate: threading.Event) -> Conversation:
    """A conversation whose first answer (the PDF question) is being written, held until ``gate``
    opens, with ``pending`` waiting behind it: the state a message sent meanwhile meets."""
    rag = RAG.from_config(index_dir=env["index"], embedder="hashing", generator="extractive")

    def held() -> Iterator[AnswerEvent]:
        yield AnswerEvent(delta="The Kestrel ")
        gate.wait(60)
        yield from rag.stream(PDF_QUESTION, groups=[])

    conv = Conversation()
    conv.submit(PDF_QUESTION, 3)
    conv.start_next(lambda q, history: AnswerJob(q, held).start(pool))
    for q in pending:
        assert conv.submit(q, 3) is None
    return conv


def _answered(at: AppTest) -> list[tuple[str, str]]:
    """(question, answer text) of each turn as the page shows it, top to bottom."""
    msgs = list(at.chat_message)
    assert [m.name for m in msgs] == ["user", "assistant"] * (len(msgs) // 2)
    return [(q.markdown[0].value, a.markdown[0].value) for q, a in zip(msgs[::2], msgs[1::2], strict=True)]


def test_a_message_sent_while_an_answer_is_written_waits_and_is_answered_after_it(env: dict[str, Path]) -> None:
    gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        at = start()
        at.session_state["conversation"] = conv = _held_conversation(env, [VPN_QUESTION], pool, gate)
        threading.Timer(1.0, gate.set).start()  # the first answer ends while the page follows it
        ask(at, LEAVE_QUESTION)
    answered = _answered(at)
    assert [q for q, _ in answered] == [PDF_QUESTION, VPN_QUESTION, LEAVE_QUESTION]  # in order, none lost
    for (_, text), expected in zip(answered, ("four hours", "WireGuard", "10日"), strict=True):
        assert expected in text  # each answer under its own question, none interleaved
    assert answered[0][1].count("The Kestrel") == 1
    assert [t.answer.question for t in conv.turns if t.answer] == [PDF_QUESTION, VPN_QUESTION, LEAVE_QUESTION]
    assert conv.pending == [] and conv.job is None and not at.warning


def test_a_message_sent_when_the_queue_is_full_is_refused_with_a_message(env: dict[str, Path]) -> None:
    gate = threading.Event()
    waiting = [VPN_QUESTION, LEAVE_QUESTION, "How often are restores of the Kestrel backups tested?"]
    with ThreadPoolExecutor(1) as pool:
        at = start()
        at.session_state["conversation"] = _held_conversation(env, waiting, pool, gate)
        threading.Timer(1.0, gate.set).start()
        ask(at, "Which gateway does the VPN use?")
    answered = _answered(at)
    assert [q for q, _ in answered] == [PDF_QUESTION, *waiting] and "every quarter" in answered[-1][1]
    (notice,) = [w.value for w in at.warning]  # still shown after the queue was answered
    assert "3 questions are already waiting" in notice and "not taken" in notice
    assert "Which gateway does the VPN use?" in notice
    ask(at, "Which gateway does the VPN use?")  # sent again: taken, and the notice goes
    assert not at.warning and "The VPN gateway is vpn" in _answered(at)[-1][1]


def test_the_index_and_models_load_once_for_every_session_and_rerun(
        env: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[PageResources] = []
    real = PageResources.from_env.__func__  # type: ignore[attr-defined]

    def counted(cls: type[PageResources], e: Any = None) -> PageResources:
        built.append(real(cls, e))
        return built[-1]

    monkeypatch.setattr(PageResources, "from_env", classmethod(counted))
    first = ask(start(), PDF_QUESTION)
    first.run()
    ask(start(), VPN_QUESTION)  # a second browser session, same process
    assert len(built) == 1
    engines = built[0].engines.configurations()
    assert len(engines) == 1  # both sessions asked through one shared RAG
