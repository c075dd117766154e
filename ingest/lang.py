"""Script-ratio language guess for a chunk: "ja", "en", "ko", "zh" or "other".

ragqa only needs to pick a tokenizer/analyser per chunk (Sudachi for Japanese, stemming for
English), so this counts scripts instead of running a language model. Shares are taken over
*letters* (``str.isalpha``: Latin, kana, kanji, Hangul ...), so digits, punctuation and
whitespace never count. In order:

1. no letters at all → ``default`` ("en"): numbers and symbols need no special analyser;
2. kana present and kana + kanji ≥ ``CJK_SHARE`` (0.2) of letters → "ja";
3. Hangul ≥ 0.2 → "ko";
4. kanji (Han) ≥ 0.2 without kana → "zh" when at least two characters only Chinese uses
   (simplified or traditional forms absent from Japanese, e.g. 这 们 说 吗 對), otherwise "ja":
   short kanji-only strings in this corpus ("人事規程", "経理部") are Japanese;
5. Latin letters ≥ half of letters → "en" (other Latin-script languages are not told apart);
6. anything else (Cyrillic, Arabic, Thai, ...) → "other".
"""

from __future__ import annotations

__all__ = ["CJK_SHARE", "LANGS", "detect_lang"]

LANGS: tuple[str, ...] = ("ja", "en", "ko", "zh", "other")
#: Share of letters (0..1) a script needs to decide the language.
CJK_SHARE = 0.2

# Frequent Chinese characters Japanese does not write: simplified forms (这 们 说 对 时 ...)
# and traditional ones whose Japanese form differs (們 說 對 ...).
_ZH_ONLY = frozenset("这们个说吗呢么还对时发为从进关经现动实问题长开样过给让该边們嗎說對沒從爲麼")


def detect_lang(text: str, default: str = "en") -> str:
    """Guess the language of ``text`` from its scripts; see the module docstring for the rules.

    ``default`` is returned for text without letters. O(len(text)), one pass.
    """
    kana = han = hangul = latin = letters = zh_only = 0
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        o = ord(ch)
        if o < 0x250:  # Basic Latin .. Latin Extended-B
            latin += 1
        elif 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9F:
            kana += 1  # Hiragana, Katakana (+ phonetic extensions, half-width)
        elif (
            0x4E00 <= o <= 0x9FFF
            or 0x3400 <= o <= 0x4DBF
            or 0xF900 <= o <= 0xFAFF
            or 0x20000 <= o <= 0x3FFFF
            or o == 0x3005  # 々 (iteration mark)
        ):
            han += 1
            if ch in _ZH_ONLY:
                zh_only += 1
        elif 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
            hangul += 1
        elif 0x1E00 <= o <= 0x1EFF or 0xFF21 <= o <= 0xFF5A:
            latin += 1  # Latin Extended Additional, full-width Latin
    if letters == 0:
        return default
    if kana and (kana + han) >= CJK_SHARE * letters:
        return "ja"
    if hangul >= CJK_SHARE * letters:
        return "ko"
    if han >= CJK_SHARE * letters:
        return "zh" if zh_only >= 2 else "ja"
    if latin * 2 >= letters:
        return "en"
    return "other"
