"""Follow-up question rewriting: "What about contractors?" after "How many days of paid leave
do employees get?" becomes a query retrieval can answer on its own.

Without an LLM the rewrite is lexical: the salient words of the previous (already resolved)
user question, and optionally the topic words of the last answer, are put in front of the
follow-up. With ``llm`` the model writes a standalone question; a bad output falls back to
the lexical rewrite.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from rag_app.prompting import detect_question_lang
from rag_app.types import Generator, Message

_EN_CUE_START = re.compile(
    r"^\s*(?:and|also|but|so|then|what\s+about|how\s+about|what\s+if|and\s+what|same\s+for|"
    r"is\s+(?:it|that|this)|does\s+(?:it|that|this)|do\s+they|are\s+they|can\s+(?:it|they))\b",
    re.IGNORECASE,
)
_EN_DEICTIC_WORDS = "it its it's that this those these they them their theirs he she him her there such same former latter one ones"
_EN_DEICTIC = frozenset(_EN_DEICTIC_WORDS.split())
_JA_CUE_START = re.compile(
    r"^\s*(?:それ|その|これ|この|あれ|あの|そちら|こちら|そこ|では|じゃあ|じゃ|それでは|それなら|なら|"
    r"また|さらに|ちなみに|他に|ほかに|あと|で、|同じく|同様に)"
)
_JA_DEICTIC = re.compile(r"それ|その|これ|あれ|あの|そちら|そこ|同じ|上記|前述|該当")
_EN_MAX_WORDS_WITH_DEICTIC = 9  # "Does it apply to contractors too?": short and pronoun-led
_EN_MAX_WORDS_ALONE = 3  # "For contractors?" / "In Osaka?"
_JA_MAX_CHARS_WITH_DEICTIC = 25
_JA_MAX_CHARS_ALONE = 10  # "派遣社員は？"

_EN_STOPWORD_TEXT = """a an the and or but if then so of to in on at by for with from about into over under as is are was
    were be been being am do does did doing have has had having can could will would shall should may might
    must i me my we our you your he him his she her it its they them their this that these those there here
    what which who whom whose when where why how many much more most some any all each every no not only
    also too very just than same such own please tell know get gets got give given let say says said
    is there are there what's how's who's it's i'm don't doesn't"""
EN_STOPWORDS = frozenset(_EN_STOPWORD_TEXT.split())
_EN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_JA_CONTENT = re.compile(r"[一-龯々〆ヵヶ]{2,}|[ァ-ヴー]{2,}|[A-Za-zＡ-Ｚａ-ｚ0-9０-９][\w\-]*")
_JA_QUESTION_WORDS = re.compile(r"何(?:日|回|時間?|人|年|か月|ヶ月|カ月|件|歳|円|番|曜日?)?|誰|幾[日回人つ]?")
_CITATION = re.compile(r"[\[［【][0-9０-９,，、\s\-–]+[\]］】]")


def _ja_terms(text: str) -> list[str]:
    """Kanji/katakana/Latin runs with question words ("何日", "誰") cut out."""
    out = []
    for run in _JA_CONTENT.findall(text):
        out += [p for p in _JA_QUESTION_WORDS.split(run) if len(p) >= 2 and p.lower() not in EN_STOPWORDS]
    return out


def is_follow_up(question: str) -> bool:
    """True when ``question`` leans on earlier turns: a follow-up cue at the start, or a short
    question with a pronoun/deictic, or a very short fragment."""
    q = question.strip()
    if not q:
        return False
    if detect_question_lang(q) == "ja":
        body = re.sub(r"[？?。！!\s]", "", q)
        if _JA_CUE_START.match(q):
            return True
        if _JA_DEICTIC.search(q) and len(body) <= _JA_MAX_CHARS_WITH_DEICTIC:
            return True
        return len(body) <= _JA_MAX_CHARS_ALONE
    if _EN_CUE_START.match(q):
        return True
    words = [w.lower() for w in _EN_WORD.findall(q)]
    if any(w in _EN_DEICTIC for w in words) and len(words) <= _EN_MAX_WORDS_WITH_DEICTIC:
        return True
    return len(words) <= _EN_MAX_WORDS_ALONE


def salient_terms(text: str) -> list[str]:
    """Content words of ``text`` in order, de-duplicated: English words minus stopwords, Japanese
    kanji/katakana runs minus question words, Latin tokens (codes, product names)."""
    text = _CITATION.sub(" ", text)
    if detect_question_lang(text) == "ja":
        terms = _ja_terms(text)
    else:
        terms = [w for w in _EN_WORD.findall(text) if w.lower() not in EN_STOPWORDS and len(w) > 1]
    return list(dict.fromkeys(terms))


def topic_terms(text: str, k: int) -> list[str]:
    """The ``k`` most frequent content words of ``text`` (ties: first seen first)."""
    text = _CITATION.sub(" ", text)
    if detect_question_lang(text) == "ja":
        found = _ja_terms(text)
    else:
        found = [w.lower() for w in _EN_WORD.findall(text) if w.lower() not in EN_STOPWORDS and len(w) > 2]
    counts = Counter(found)
    first = {t: i for i, t in reversed(list(enumerate(found)))}
    return sorted(counts, key=lambda t: (-counts[t], first[t]))[:k]


def _lexical(question: str, previous: str, last_answer: str | None, answer_terms: int) -> str:
    terms = salient_terms(previous)
    if last_answer and answer_terms > 0:
        have = {t.lower() for t in terms}
        terms += [t for t in topic_terms(last_answer, answer_terms) if t.lower() not in have]
    question_words = {t.lower() for t in salient_terms(question)}
    terms = [t for t in terms if t.lower() not in question_words]
    if not terms:
        return question.strip()
    return " ".join(terms) + " " + question.strip()


_LLM_SYSTEM = (
    "Rewrite the user's last question as a standalone question that can be understood without the "
    "conversation. Keep its language (Japanese stays Japanese). Resolve pronouns such as it/that/they or "
    "それ/その/これ. Do not answer it. Output only the rewritten question on one line."
)


def _llm_rewrite(question: str, history: Sequence[Message], llm: Generator) -> str | None:
    lines = [
        f"{m.role}: {' '.join(m.content.split())[:500]}" for m in history if m.role in ("user", "assistant")
    ]
    user = (
        "Conversation:\n"
        + "\n".join(lines[-6:])
        + f"\n\nLast question: {question.strip()}\n\nStandalone question:"
    )
    try:
        out = llm.generate([Message("system", _LLM_SYSTEM), Message("user", user)], max_tokens=128).text
    except Exception:  # a failing rewriter must not stop the question being answered
        return None
    out = out.strip().splitlines()[0].strip() if out.strip() else ""
    out = re.sub(
        r"^(?:standalone question|rewritten question|question)\s*[:：]\s*", "", out, flags=re.IGNORECASE
    )
    out = out.strip().strip('"“”「」')
    if not out or len(out) > 3 * len(question.strip()) + 200:
        return None
    return out


def rewrite_question(
    question: str,
    history: Sequence[Message],
    llm: Generator | None = None,
    *,
    answer_terms: int = 0,
) -> str:
    """A self-contained version of ``question`` for retrieval (``question`` itself when it is not
    a follow-up or there is no earlier user turn).

    Earlier user turns are resolved in order first, so a chain of follow-ups keeps its topic.
    ``answer_terms`` > 0 also adds that many topic words of the last assistant message.
    """
    users = [m.content for m in history if m.role == "user" and m.content.strip()]
    if not users or not is_follow_up(question):
        return question
    if llm is not None:
        out = _llm_rewrite(question, history, llm)
        if out is not None:
            return out
    resolved = users[0].strip()
    for turn in users[1:]:
        resolved = _lexical(turn, resolved, None, 0) if is_follow_up(turn) else turn.strip()
    last_answer = next((m.content for m in reversed(history) if m.role == "assistant"), None)
    return _lexical(question, resolved, last_answer, answer_terms)
