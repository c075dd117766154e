"""bench_answer's result key: a stored answer is reused only under the settings it was made with."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.bench_answer import config_key
from rag_app.config import AnswerSettings
from rag_app.generators.extractive import ExtractiveGenerator


def test_key_moves_with_every_refusal_setting_and_not_with_the_generator() -> None:
    base = AnswerSettings()
    key = config_key("qa", base, ExtractiveGenerator())
    assert key == config_key("qa")  # the defaults
    assert key.startswith("index=docs_corpus-e5;") and "max_unsupported=0.45" in key
    changed = [
        config_key("qa", replace(base, max_unsupported=None)),
        config_key("qa", replace(base, refusal_threshold=0.85)),
        config_key("qa", replace(base, top_k=3)),
        config_key("qa", base, ExtractiveGenerator(min_coverage=0.4)),
        config_key("squad", base),
    ]
    assert len({key, *changed}) == 1 + len(changed)
    # which generator answered is stored beside the key, not in it
    assert config_key("qa", replace(base, generator="qwen-1.5b")) == key
