"""Build handbook/benefits.pdf from the text below (fpdf2, in the dev extra).

    .venv/bin/python examples/knowledge/make_pdf.py [--out PATH]

The output is byte-for-byte reproducible with the same fpdf2: a fixed creation date and producer,
and fpdf2's document id is a hash of the content.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

OUT = Path(__file__).resolve().parent / "handbook" / "benefits.pdf"

# (heading level, text): level 1 and 2 are headings, 0 a paragraph. The core PDF fonts are
# Latin-1 only, so amounts are written in EUR.
CONTENT: list[tuple[int, str]] = [
    (1, "Benefits 2024"),
    (
        0,
        "This document describes the benefits for permanent staff of Fernhollow Systems "
        "in Portugal and Estonia from 1 January 2024. Contractors are covered by their own "
        "contracts.",
    ),
    (2, "Learning budget"),
    (
        0,
        "Every employee has a learning budget of EUR 950 per calendar year for courses, "
        "conferences, books and certifications. Your manager approves each purchase before you "
        "buy. Unused budget does not roll over to the next year. Conference travel is paid from "
        "the travel budget under the expense policy, not from the learning budget.",
    ),
    (2, "Home office"),
    (
        0,
        "A one-off home office allowance of EUR 450 for a desk, a chair or a screen, renewed "
        "every 3 years. Laptops, headsets and docks are issued by IT and are not paid from it.",
    ),
    (2, "Health insurance"),
    (
        0,
        "Health insurance is with Medilume. It covers the employee, a spouse or partner and "
        "children up to the age of 25, with no waiting period. Claims go through the Medilume app; "
        "the policy number is on the card you receive in your first week.",
    ),
    (2, "Parental leave"),
    (
        0,
        "The primary caregiver gets 20 weeks of parental leave on full pay; the other parent gets "
        "8 weeks on full pay, to be taken within the child's first year. Leave can be split into "
        "at most three blocks. Tell your manager and people operations at least 8 weeks before "
        "the leave starts.",
    ),
    (2, "Sports"),
    (
        0,
        "A sports allowance of EUR 30 per month, paid with the salary, for a gym, a club or "
        "classes. No receipts are needed.",
    ),
    (2, "Sabbatical"),
    (
        0,
        "After 5 years with the company, employees may take a paid sabbatical of 4 weeks, once "
        "in every 5-year period, agreed with their manager at least 3 months ahead.",
    ),
]

FIXED_DATE = datetime(2024, 3, 1, tzinfo=UTC)


def build(out: Path = OUT) -> Path:
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_producer("examples/knowledge/make_pdf.py")
    pdf.set_creator("examples/knowledge/make_pdf.py")
    pdf.set_title("Benefits 2024")
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    for level, text in CONTENT:
        if level == 1:
            pdf.set_font("Helvetica", "B", 18)
            pdf.multi_cell(0, 10, text, new_x="LMARGIN", new_y="NEXT")
        elif level == 2:
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", 13)
            pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    print(build(parser.parse_args().out))


if __name__ == "__main__":
    main()
