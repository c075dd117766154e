"""A refusal's reason (``Answer.refusal_reason``) in words a reader understands."""

from __future__ import annotations


def explain_refusal(reason: str | None) -> str:
    """One or two sentences for the page; the machine form is shown next to it for admins."""
    kind, _, detail = (reason or "").partition(":")
    if kind == "no_hits":
        return "Nothing relevant was found: no document you may see matches the question (or the filters)."
    if kind == "low_relevance":
        best, _, floor = detail.partition("<")
        return (f"Nothing relevant enough was found: the closest passage scores {best}, below the "
                f"{floor} a passage needs to be trusted as an answer.")
    if kind == "unsupported_terms":
        terms = detail.split(":", 1)[1] if ":" in detail else ""
        shown = ", ".join(t for t in terms.split(",") if t)
        return ("The question asks about something the documents never mention"
                + (f" (not found: {shown})." if shown else "."))
    if kind == "name_not_found":
        return ("The question asks about something the documents never mention: no passage found names "
                f"{detail.replace(',', ', ')}.")
    if kind == "period_not_found":
        return (f"The documents found are reports, and none covers or mentions {detail.replace(',', ', ')}: "
                "no report of that period is indexed.")
    if kind == "generator_refused":
        return "The passages found do not answer the question: the model read them and found no answer."
    if kind == "answer_followed_injection":
        return ("The answer was withheld: it followed an instruction planted in a document instead of "
                "answering from it.")
    return f"The question was not answered ({reason or 'no reason given'})."
