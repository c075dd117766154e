"""Column-group titles go to the groups of years they are printed over."""

from __future__ import annotations

from ingest.loaders.column_groups import assign_titles, column_group_titles, printed_lines


def _word(text: str, x0: float, top: float, width: float = 30.0) -> dict[str, object]:
    return {"text": text, "x0": x0, "x1": x0 + width, "top": top, "bottom": top + 9}


def _page() -> list[dict[str, object]]:
    """Three groups of three years at x = 150.., 300.., 450..; titles centred over each group."""
    header = [_word("(Millions)", 40, 100, 50)] + [
        _word(year, x0 + 45 * j, 100.5) for x0 in (150, 300, 450) for j, year in enumerate(("2018", "2017", "2016"))]
    titles = [_word("Assets", 200, 88), _word("Depreciation", 310, 88, 60), _word("&", 372, 88, 8),
              _word("Amortization", 382, 88, 60), _word("Capital", 470, 88.4, 35), _word("Expenditures", 507, 88, 60)]
    return [_word("Business", 40, 60), *titles, *header, _word("Industrial", 40, 112)]


def test_titles_are_placed_over_their_groups() -> None:
    assert column_group_titles(printed_lines(_page()), "Assets Depreciation & Amortization Capital Expenditures",
                               "(Millions) 2018 2017 2016 2018 2017 2016 2018 2017 2016", (3, 3, 3)) == (
        "Assets", "Depreciation & Amortization", "Capital Expenditures")


def test_lines_not_found_one_above_the_other_give_none() -> None:
    lines = printed_lines(_page())
    assert column_group_titles(lines, "Net Sales Operating Income",
                               "(Millions) 2018 2017 2016 2018 2017 2016 2018 2017 2016", (3, 3, 3)) is None
    assert column_group_titles(lines, "Assets Depreciation & Amortization Capital Expenditures",
                               "(Millions) 2018 2017", (2,)) is None


def test_a_group_without_a_title_gives_none() -> None:
    spans = [(150.0, 270.0), (300.0, 420.0), (450.0, 570.0)]
    assert assign_titles([[_word("Assets", 200, 88), _word("Capex", 480, 88)]], spans) is None
    assert assign_titles([[_word("A", 200, 88), _word("B", 330, 88), _word("C", 480, 88)]], spans) == ("A", "B", "C")
