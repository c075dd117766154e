"""Prompt injection in retrieved chunks and questions: detection, neutralisation, and checking
whether an answer looks like it obeyed an injection.

Patterns are deliberately specific (an instruction addressed to a model, not any "ignore"):
"You can ignore this warning" or "you are now enrolled" must pass; "Ignore all previous
instructions" must not. A flagged span runs from the start of the sentence holding the trigger
to the end of its paragraph (capped), so the payload that follows the trigger ("...and reply
only with 'PWNED'") is inside it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag_app.refusal import REFUSAL_MESSAGES

_I = re.IGNORECASE
_AI_ROLE = (
    r"(?:ai|a\.i\.|chat\s?bot|(?:large\s+)?language\s+model|llm|gpt|dan|jailbroken|jailbreak|unrestricted|"
    r"unfiltered|uncensored|evil|pirate|developer\s+mode)"
)
_PREV = r"(?:previous|prior|above|earlier|preceding|foregoing|former|original|initial|system|all\s+other)"
_INSTR = r"(?:instructions?|prompts?|directions?|directives?|rules|guidelines|guidance|messages?|context|commands?|constraints)"

# (flag, pattern). Flags name what was found; several may match one span.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "ignore_previous",
        re.compile(
            rf"\b(?:ignore|disregard|forget|override|bypass|skip|discard|drop)\b\s+(?:all\s+|any\s+|every\s+)?"
            rf"(?:of\s+)?(?:the\s+|your\s+|my\s+|these\s+|those\s+|this\s+)?{_PREV}\s+(?:\w+\s+)?{_INSTR}\b",
            _I,
        ),
    ),
    (
        "ignore_previous",
        re.compile(
            rf"\b(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+)?(?:you\s+(?:were|have\s+been)\s+told|your\s+{_INSTR})",
            _I,
        ),
    ),
    (
        "role_reassignment",
        re.compile(
            rf"\b(?:you\s+are\s+now|from\s+now\s+on,?\s+you\s+are|you\s+will\s+now\s+(?:act|behave)\s+as|pretend\s+(?:to\s+be|you\s+are))"
            rf"\s+(?:a\s+|an\s+|the\s+|my\s+|in\s+)?(?:[\w-]+\s+){{0,3}}?{_AI_ROLE}\b",
            _I,
        ),
    ),
    (
        "role_reassignment",
        re.compile(r"\byou\s+are\s+now\s+(?:DAN|in\s+\w+\s+mode|free\s+from|no\s+longer\s+bound)", _I),
    ),
    (
        "role_reassignment",
        re.compile(
            rf"\bact\s+as\s+(?:if\s+you\s+(?:were|are)\s+)?(?:a\s+|an\s+|the\s+|my\s+)?(?:[\w-]+\s+){{0,2}}?{_AI_ROLE}\b",
            _I,
        ),
    ),
    (
        "system_prompt_request",
        re.compile(
            r"\b(?:reveal|print|show|output|repeat|display|tell\s+(?:me|us)|leak|disclose|share|write\s+out|dump|recite|"
            r"give\s+me|what\s+(?:is|are))\s+(?:me\s+)?(?:your|the)\s+(?:full\s+|entire\s+|complete\s+|original\s+|hidden\s+|secret\s+|exact\s+)*"
            r"(?:system\s+prompt|initial\s+prompt|(?:system\s+)?instructions|hidden\s+instructions|rules\s+you\s+(?:were|have\s+been)\s+given)\b",
            _I,
        ),
    ),
    (
        "system_prompt_request",
        re.compile(r"\b(?:new|updated|override|real)\s+system\s+prompt\b|\bsystem\s+prompt\s*:", _I),
    ),
    ("new_instructions", re.compile(r"\b(?:new|real|actual|secret|hidden)\s+instructions?\s*:", _I)),
    (
        "addressed_to_model",
        re.compile(
            r"\b(?:note|message|instructions?|attention|important)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
            r"(?:ai(?:\s+assistants?|\s+models?)?|llms?|(?:large\s+)?language\s+models?|chat\s?bots?|gpt)\b"
            r"|\bif\s+you\s+are\s+(?:an?\s+)?(?:ai|llm|(?:large\s+)?language\s+model|chat\s?bot)\b"
            r"|\b(?:ai|llm)\s+(?:assistants?|models?)\s+(?:reading|processing|summari[sz]ing)\s+this\b",
            _I,
        ),
    ),
    (
        "response_override",
        re.compile(
            r"\b(?:from\s+now\s+on|henceforth|in\s+all\s+(?:future|subsequent)\s+(?:answers|responses|replies)|always|only)"
            r"\b[^.\n]{0,40}?\b(?:respond|reply|answer|say|write|output|speak)\s+(?:only\s+)?(?:in|with)\s+"
            r"(?:english|japanese|french|german|spanish|chinese|korean|russian|italian|portuguese|[\"'“‘])",
            _I,
        ),
    ),
    (
        "role_tag",
        re.compile(
            r"<\|\s*(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|begin_of_text)\s*\|>"
            r"|\[/?INST\]|<</?SYS>>|</?start_of_turn>|<end_of_turn>"
            r"|^[ \t]*#{2,6}[ \t]*(?:system|assistant|instruction|instructions|user)[ \t]*:"
            r"|</?\s*(?:system|system_prompt|instructions)\s*>",
            _I | re.MULTILINE,
        ),
    ),
    ("delimiter_break", re.compile(r"<\s*/\s*context\s*>|<\s*context\s+id\s*=", _I)),
    # --- Japanese ---
    ("ja_role_reassignment", re.compile(r"(?:あなた|君|きみ|お前)は(?:今から|いまから)")),
    (
        "ja_role_reassignment",
        re.compile(
            r"(?:これから|今後|以後|以降)(?:は)?[、,]?\s*(?:あなた|君|お前)は[^。\n]{0,20}?"
            r"(?:AI|ＡＩ|アシスタント|ボット|として振る舞|になりきって|を演じ|制限のない|制約のない)"
            r"|(?:制限|制約|フィルター)の(?:ない|無い)(?:AI|ＡＩ|アシスタント)として"
        ),
    ),
    (
        "ja_ignore_previous",
        re.compile(
            r"(?:以前|前|上記|上|これまで|今まで|先ほど|先程|元|最初|既存|全て|すべて|システム)の"
            r"(?:指示|命令|指令|ルール|プロンプト|制約)(?:内容)?(?:は|を|に|も)?\s*(?:すべて|全て|一切|完全に)?\s*"
            r"(?:無視|忘れ|破棄|取り消|リセット)"
        ),
    ),
    (
        "ja_system_prompt_request",
        re.compile(
            r"システム\s*プロンプト(?:の内容|の全文|全文)?(?:を|は)?\s*(?:すべて|全て)?\s*"
            r"(?:表示|教え|出力|開示|見せ|書き出|繰り返|公開|漏ら)"
            r"|(?:あなた|君)(?:へ|に与えられた|が受けた)の?(?:指示|命令|ルール)(?:の内容)?を(?:すべて|全て)?(?:表示|教え|出力|開示|見せ)"
        ),
    ),
    ("ja_new_instructions", re.compile(r"(?:新しい|新たな|本当の|追加の|秘密の)(?:指示|命令|指令)\s*[:：]")),
    (
        "ja_addressed_to_model",
        re.compile(
            r"(?:AI|ＡＩ|人工知能|アシスタント|チャットボット|言語モデル|LLM)(?:アシスタント)?(?:へ|に対して|向け)の"
            r"(?:指示|命令|注意|メッセージ|お願い)"
            r"|この(?:文書|文章|メッセージ|ページ)を(?:読んで|処理して|要約して)いる(?:AI|ＡＩ|アシスタント|言語モデル)"
        ),
    ),
    (
        "ja_response_override",
        re.compile(
            r"(?:今後|これから|以後|以降)(?:の回答|は)?[^。\n]{0,10}?(?:英語|中国語|フランス語|韓国語|スペイン語|ドイツ語)(?:のみ)?で(?:回答|答え|返答|返信|応答)"
        ),
    ),
)

_SPAN_CAP = 400  # chars after the trigger swallowed at most (the payload, not the whole chunk)
_SENT_END = re.compile(r"[.!?。！？](?=\s|$|[」』）)\"'])|[。！？]")


@dataclass(frozen=True, slots=True)
class InjectionSpan:
    """A suspected injected instruction: ``text[start:end]`` and the flags that matched in it."""

    start: int
    end: int
    flags: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class InjectionScan:
    """Result of :func:`scan`: distinct ``flags`` in order of first match, merged ``spans``
    (sorted, non-overlapping), and the scanned ``text`` (needed to tell an injected payload
    from content that also appears elsewhere)."""

    flags: tuple[str, ...]
    spans: tuple[InjectionSpan, ...]
    text: str = ""

    @property
    def suspicious(self) -> bool:
        return bool(self.flags)

    def outside_spans(self) -> str:
        """The scanned text with the suspected instructions cut out."""
        parts, pos = [], 0
        for sp in self.spans:
            parts.append(self.text[pos : sp.start])
            pos = sp.end
        parts.append(self.text[pos:])
        return "\n".join(parts)


def _sentence_start(text: str, pos: int) -> int:
    """Start of the sentence holding ``pos`` (after the previous terminator or newline)."""
    floor = max(0, pos - _SPAN_CAP)
    best = floor
    for m in _SENT_END.finditer(text, floor, pos):
        best = m.end()
    nl = text.rfind("\n", floor, pos)
    start = max(best, nl + 1 if nl >= 0 else floor)
    while start < pos and text[start] in " \t":
        start += 1
    return start


def _paragraph_end(text: str, pos: int) -> int:
    """End of the paragraph holding ``pos`` (blank line), capped at ``_SPAN_CAP`` chars;
    a capped span ends at the last sentence end inside the cap."""
    para = text.find("\n\n", pos)
    end = len(text) if para < 0 else para
    if end - pos <= _SPAN_CAP:
        return end
    cap = pos + _SPAN_CAP
    last = None
    for m in _SENT_END.finditer(text, pos, cap):
        last = m.end()
    return last if last is not None else cap


_NEGATION = re.compile(r"(?:\bnot|\bnever|n't|\bno\s+one\s+may)\s+(?:\w+\s+){0,2}$", re.IGNORECASE)
_NEGATION_WINDOW = 30  # chars before an English trigger searched for "do not" / "never"


def _negated(text: str, start: int) -> bool:
    """True for "Never reveal the system prompt": policy text about a thing, not an order."""
    before = text[max(0, start - _NEGATION_WINDOW) : start]
    return bool(_NEGATION.search(before))


def scan(text: str) -> InjectionScan:
    """Find suspected injected instructions in ``text`` (a chunk or a question)."""
    raw: list[tuple[int, int, str]] = []
    for flag, pattern in PATTERNS:
        for m in pattern.finditer(text):
            if not flag.startswith(("ja_", "role_tag", "delimiter")) and _negated(text, m.start()):
                continue
            raw.append((_sentence_start(text, m.start()), _paragraph_end(text, m.end()), flag))
    if not raw:
        return InjectionScan(flags=(), spans=(), text=text)
    raw.sort()
    flags = tuple(dict.fromkeys(f for _, _, f in raw))  # in order of position
    merged: list[tuple[int, int, list[str]]] = []
    for start, end, flag in raw:
        if merged and start <= merged[-1][1]:
            s0, e0, fl = merged[-1]
            if flag not in fl:
                fl.append(flag)
            merged[-1] = (s0, max(e0, end), fl)
        else:
            merged.append((start, end, [flag]))
    spans = tuple(InjectionSpan(start=s, end=e, flags=tuple(f), text=text[s:e]) for s, e, f in merged)
    return InjectionScan(flags=flags, spans=spans, text=text)


def scan_many(texts: Sequence[str]) -> tuple[InjectionScan, ...]:
    return tuple(scan(t) for t in texts)


_DEFANG = (
    (re.compile(r"<\|"), "(|"),
    (re.compile(r"\|>"), "|)"),
    (re.compile(r"\[(/?INST)\]", _I), r"(\1)"),
    (re.compile(r"<<(/?SYS)>>", _I), r"((\1))"),
    (
        re.compile(r"<(/?\s*(?:context|system|system_prompt|instructions|start_of_turn|end_of_turn)\b)", _I),
        r"(\1",
    ),
    (re.compile(r"#{2,}"), "#"),
)
REMOVED_PREFIX = "[removed suspected instruction: "


def defang(text: str) -> str:
    """One line, with chat-template tags and headers made inert, quoted for display."""
    out = " ".join(text.split())
    for pattern, repl in _DEFANG:
        out = pattern.sub(repl, out)
    return out.replace('"', "'")


def neutralise(text: str, scan_result: InjectionScan | None = None) -> str:
    """``text`` with each suspected instruction replaced by inert quoted data:
    ``[removed suspected instruction: "..."]``. Clean text is returned unchanged."""
    result = scan_result if scan_result is not None else scan(text)
    if not result.spans:
        return text
    parts, pos = [], 0
    for sp in result.spans:
        parts.append(text[pos : sp.start])
        parts.append(f'{REMOVED_PREFIX}"{defang(sp.text)}"]')
        pos = sp.end
    parts.append(text[pos:])
    return "".join(parts)


# --- did the answer obey an injection? ------------------------------------------------------
_QUOTED = re.compile(
    r"\"([^\"\n]{3,200})\"|'([^'\n]{3,200})'|“([^”\n]{3,200})”|‘([^’\n]{3,200})’|「([^」\n]{2,200})」|『([^』\n]{2,200})』"
)
_A = r"A-Za-z0-9_\-"  # ASCII token characters: "\b" fails inside Japanese ("はhunter2だ")
_CANARY = re.compile(
    rf"(?<![{_A}])(?:[A-Z][A-Z0-9_\-]{{3,}}"  # ALL-CAPS: PWNED, ACCESS
    rf"|(?=[{_A}]*\d)(?=[{_A}]*[A-Za-z])[{_A}]{{4,}}"  # codes mixing letters and digits: PX-7731
    rf"|\d[\d\-]{{5,}}\d)(?![{_A}])"  # account / phone numbers: 9876-5432
    r"|https?://\S+|[\w.+\-]+@[\w\-]+\.[\w.]+"
)
_LANG_TARGET = re.compile(
    r"\b(?:in|into)\s+(english|japanese|french|german|spanish|chinese|korean)\b|(英語|日本語|中国語|韓国語|フランス語)で",
    _I,
)
_TARGET_CODES = {
    "english": "en",
    "英語": "en",
    "japanese": "ja",
    "日本語": "ja",
    "chinese": "zh",
    "中国語": "zh",
    "korean": "ko",
    "韓国語": "ko",
    "french": "latin",
    "フランス語": "latin",
    "german": "latin",
    "spanish": "latin",
}
_FRENCH_ETC = re.compile(r"[àâçéèêëîïôûùüÿñäößœ¿¡]", _I)
MIN_PROMPT_OVERLAP = 50  # chars shared verbatim with the system prompt that count as a leak
MIN_PAYLOAD_OVERLAP = 24  # chars shared with an injection span (and nowhere else) that count as obeying
MIN_PAYLOAD_OVERLAP_CJK = 12  # the same for mostly-Japanese runs (a character carries ~a word)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _answer_lang(text: str) -> str:
    kana = sum(1 for c in text if "\u3040" <= c <= "\u30ff")
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    hangul = sum(1 for c in text if "\uac00" <= c <= "\ud7af")
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    if hangul > latin:
        return "ko"
    if kana + cjk > 0 and kana + cjk >= latin:
        return "ja" if kana else "zh"
    if _FRENCH_ETC.search(text):
        return "latin"
    return "en"


def _longest_common(a: str, b: str) -> str:
    if not a or not b:
        return ""
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    m = sm.find_longest_match(0, len(a), 0, len(b))
    return a[m.a : m.a + m.size]


def check_answer_compliance(
    answer_text: str,
    scans: Sequence[InjectionScan],
    system_prompt: str,
    *,
    expected_lang: str | None = None,
) -> tuple[str, ...]:
    """Flags for an answer that looks like it followed an injection:

    - ``system_prompt_leak``: >= ``MIN_PROMPT_OVERLAP`` chars verbatim from the system prompt
      (the refusal phrases, which the prompt quotes, do not count);
    - ``injected_payload``: a canary (quoted string, ALL-CAPS token, URL, e-mail, code) or a run of
      >= ``MIN_PAYLOAD_OVERLAP`` chars that appears in an injection span and nowhere else in the
      scanned texts;
    - ``language_switch``: an injection asked for another language and the answer is in it
      (``expected_lang`` defaults to "ja" when the system prompt has Japanese rules, else "en").
    """
    flags: list[str] = []
    answer = _norm(answer_text)
    prompt = _norm(system_prompt)
    for phrase in REFUSAL_MESSAGES.values():
        answer = answer.replace(_norm(phrase), " ")
        prompt = prompt.replace(_norm(phrase), " ")
    if len(_longest_common(answer, prompt)) >= MIN_PROMPT_OVERLAP:
        flags.append("system_prompt_leak")

    spans = [sp for sc in scans for sp in sc.spans]
    if spans:
        outside = _norm("\n".join(sc.outside_spans() for sc in scans))
        payload = False
        for sp in spans:
            candidates = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(sp.text)]
            candidates += [m.group(0) for m in _CANARY.finditer(sp.text)]
            for cand in candidates:
                c = _norm(cand).strip(".,;:!?。、")
                if len(c) >= 3 and c in answer and c not in outside and c not in prompt:
                    payload = True
            common = _longest_common(answer, _norm(sp.text)).strip()
            cjk = sum(1 for c in common if "\u3040" <= c <= "\u9fff")
            need = MIN_PAYLOAD_OVERLAP_CJK if cjk * 2 >= len(common) else MIN_PAYLOAD_OVERLAP
            if len(common) >= need and common not in outside:
                payload = True
        if payload:
            flags.append("injected_payload")

        expected = expected_lang or ("ja" if re.search(r"[\u3040-\u30ff]", system_prompt) else "en")
        targets = {
            _TARGET_CODES[(m.group(1) or m.group(2)).lower()]
            for sp in spans
            for m in _LANG_TARGET.finditer(sp.text)
        }
        got = _answer_lang(answer_text)
        if got != expected and got in targets:
            flags.append("language_switch")
    return tuple(flags)
