"""The report's plots as PNG bytes (matplotlib, Agg backend: no display, no browser).

Japanese labels need a CJK font: ``cjk_font()`` finds one (Noto Sans CJK, IPA, Takao...) among
matplotlib's fonts; without one the report says so and Japanese renders as boxes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from .stats import Estimate

MPL_HINT = "pip install 'ragqa[eval]'  (matplotlib)"
CJK_FONT_HINT = "apt-get install fonts-noto-cjk (Debian/Ubuntu), then re-run `ragqa eval report`"
_CJK_NAMES = ("Noto Sans CJK JP", "Noto Sans JP", "Noto Serif CJK JP", "IPAexGothic", "IPAGothic", "TakaoGothic",
              "VL Gothic", "Source Han Sans JP", "Droid Sans Fallback")


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(f"the report's plots need matplotlib: {MPL_HINT}") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def cjk_font() -> str | None:
    """The name of an installed font that has Japanese glyphs, or None."""
    _plt()
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in _CJK_NAMES if n in names), None)


def _setup(font: str | None) -> Any:
    plt = _plt()
    plt.rcParams.update({"font.family": "sans-serif", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False})
    if font:
        plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _err(e: Estimate) -> tuple[float, float]:
    return (max(0.0, e.value - e.lo), max(0.0, e.hi - e.value))


def metric_bars(table: Mapping[str, Mapping[str, Estimate]], metrics: Sequence[tuple[str, str]],
                font: str | None) -> bytes:
    """One panel per metric: a bar per system with its 95 % interval. ``metrics``: (name, label)."""
    plt = _setup(font)
    systems = list(table)
    cols = min(4, len(metrics))
    rows = (len(metrics) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows + 0.3 * len(systems) / 4), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (name, label) in zip(axes.flat, metrics, strict=False):
        ests = [table[s].get(name, Estimate(float("nan"), float("nan"), float("nan"), 0)) for s in systems]
        xs = range(len(systems))
        vals = [e.value if e.n else 0.0 for e in ests]
        errs = list(zip(*[_err(e) if e.n > 1 else (0.0, 0.0) for e in ests], strict=True))
        ax.bar(xs, vals, yerr=errs, capsize=3, color=[colors[i % len(colors)] for i in xs])
        ax.set_title(label)
        ax.set_xticks(list(xs), [s if len(s) < 18 else s[:16] + "…" for s in systems], rotation=30, ha="right")
        for x, e in zip(xs, ests, strict=True):
            ax.annotate(f"n={e.n}", (x, 0), textcoords="offset points", xytext=(0, 2), ha="center", fontsize=7)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def accuracy_vs_latency(points: Mapping[str, tuple[Estimate, Estimate]], acc_label: str, font: str | None) -> bytes:
    """One point per system: (median total seconds, accuracy), both with their intervals."""
    plt = _setup(font)
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (lat, acc) in points.items():
        if not lat.n or not acc.n:
            continue
        ax.errorbar([lat.value], [acc.value], xerr=[[_err(lat)[0]], [_err(lat)[1]]],
                    yerr=[[_err(acc)[0]], [_err(acc)[1]]], fmt="o", capsize=3, label=label)
        ax.annotate(label, (lat.value, acc.value), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("total seconds per question (median, log scale)")
    ax.set_ylabel(acc_label)
    ax.set_ylim(-0.05, 1.05)
    fig.tight_layout()
    return _png(fig)


def grouped_bars(data: Mapping[str, Mapping[str, Estimate]], title: str, font: str | None) -> bytes:
    """Groups (languages, topics) on the x axis, one bar per system, with intervals."""
    plt = _setup(font)
    systems = list(data)
    groups = sorted({g for d in data.values() for g in d})
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(groups) * max(1, len(systems)) ** 0.5 + 2), 3.6))
    for i, s in enumerate(systems):
        ests = [data[s].get(g, Estimate(float("nan"), float("nan"), float("nan"), 0)) for g in groups]
        xs = [j + (i - (len(systems) - 1) / 2) * width for j in range(len(groups))]
        errs = list(zip(*[_err(e) if e.n > 1 else (0.0, 0.0) for e in ests], strict=True))
        ax.bar(xs, [e.value if e.n else 0.0 for e in ests], width, yerr=errs, capsize=2, label=s)
    ax.set_xticks(range(len(groups)), [f"{g}\n(n={_n(data, g)})" for g in groups], rotation=0)
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return _png(fig)


def _n(data: Mapping[str, Mapping[str, Estimate]], group: str) -> int:
    return max((d[group].n for d in data.values() if group in d), default=0)


def refusal_tradeoff(points: Mapping[str, tuple[Estimate, Estimate]], font: str | None) -> bytes:
    """One point per system: false refusals on answerable (x) against refusals on unanswerable (y)."""
    plt = _setup(font)
    fig, ax = plt.subplots(figsize=(5, 4))
    for label, (false_ref, ref_un) in points.items():
        if not false_ref.n or not ref_un.n:
            continue
        ax.errorbar([false_ref.value], [ref_un.value], xerr=[[_err(false_ref)[0]], [_err(false_ref)[1]]],
                    yerr=[[_err(ref_un)[0]], [_err(ref_un)[1]]], fmt="o", capsize=3)
        ax.annotate(label, (false_ref.value, ref_un.value), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("false refusal on answerable questions (lower is better)")
    ax.set_ylabel("refusal on unanswerable questions (higher is better)")
    fig.tight_layout()
    return _png(fig)
