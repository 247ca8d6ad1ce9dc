"""Reading files into sections (Markdown, HTML, text, PDF), what makes a file unusable, and
the three chunking strategies."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from agentlab.memory._chunking import Chunk, ChunkSizes, Parent, chunk_sections, split_spans
from agentlab.memory._documents import MAX_SECTION_CHARS, Section, Unreadable, open_document


def sections(path: Path) -> list[Section]:
    return list(open_document(path).sections())


def pdf(path: Path, pages: list[str], *, password: str | None = None) -> Path:
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    document = FPDF()
    document.set_font("helvetica", size=11)
    for text in pages:
        document.add_page()
        document.multi_cell(0, 6, text)
    if password is not None:
        document.set_encryption(
            owner_password="owner", user_password=password, encryption_method=EncryptionMethod.RC4
        )
    document.output(str(path))
    return path


def test_markdown_headings_give_each_section_its_path(tmp_path: Path) -> None:
    path = tmp_path / "offices.md"
    path.write_text(
        "Intro before any heading.\n\n"
        "# Offices\n\nThree cities.\n\n"
        "## Oslo ##\n\nStorgata 5.\n\n"
        "```\n# not a heading, code\n```\n\n"
        "### Parking\n\nNone.\n\n"
        "## Lisbon\n\nRua Augusta 10.\n\n"
        "Travel **policy**\n================\n\nBook early.\n\n"
        "Hotels\n------\n\nAt most 165 euros.\n"
    )
    found = [(s.heading, s.text) for s in sections(path)]
    assert found == [
        ((), "Intro before any heading."),
        (("Offices",), "Three cities."),
        (("Offices", "Oslo"), "Storgata 5.\n\n```\n# not a heading, code\n```"),
        (("Offices", "Oslo", "Parking"), "None."),
        (("Offices", "Lisbon"), "Rua Augusta 10."),
        (("Travel policy",), "Book early."),
        (("Travel policy", "Hotels"), "At most 165 euros."),
    ]


def test_html_headings_text_and_no_scripts(tmp_path: Path) -> None:
    path = tmp_path / "leave.html"
    path.write_text(
        "<html><head><title>Leave</title><style>p {color: red}</style></head><body>"
        "<nav>Home</nav><h1>Leave <em>policy</em></h1><p>Annual leave is 25&nbsp;days.</p>"
        "<script>var secret = 1;</script><h2>Sick leave</h2><ul><li>Call before 9am.</li>"
        "<li>Bring a note after 3 days.</li></ul><h2>Parental</h2><p>See HR.</p></body></html>"
    )
    found = [(s.heading, s.text) for s in sections(path)]
    assert found == [
        ((), "Home"),
        (("Leave policy",), "Annual leave is 25 days."),
        (("Leave policy", "Sick leave"), "Call before 9am.\nBring a note after 3 days."),
        (("Leave policy", "Parental"), "See HR."),
    ]
    assert "secret" not in repr(found) and "color" not in repr(found)


def test_plain_text_has_no_headings_and_long_text_comes_in_bounded_pieces(
    tmp_path: Path,
) -> None:
    path = tmp_path / "notes.txt"
    paragraph = "word " * 200
    path.write_text("\n\n".join([paragraph] * 400))
    found = sections(path)
    assert len(found) > 1
    assert all(s.heading == () and len(s.text) <= MAX_SECTION_CHARS for s in found)
    assert sum(len(s.text.split()) for s in found) == 200 * 400


def test_pdf_pages_are_read(tmp_path: Path) -> None:
    path = pdf(
        tmp_path / "benefits.pdf", ["Dental cover starts after three months.", "Gym: 40 EUR."]
    )
    found = sections(path)
    assert [s.heading for s in found] == [(), ()]
    assert "Dental cover starts after three months." in found[0].text
    assert "Gym: 40 EUR." in found[1].text


def test_a_pdf_with_an_empty_user_password_is_read(tmp_path: Path) -> None:
    path = pdf(tmp_path / "open.pdf", ["Readable by anyone."], password="")
    assert "Readable by anyone." in sections(path)[0].text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty"),
        ("blank.txt", b"  \n\n \t\n", "empty"),
        ("nul.txt", b"text\x00with a NUL byte", "binary"),
        ("noise.md", bytes(range(128, 256)) * 8, "binary"),
        ("picture.png", b"\x89PNG\r\n", "unsupported type"),
        ("archive.zip", b"PK\x03\x04", "unsupported type"),
        ("broken.pdf", b"%PDF-1.4 this is not really a PDF", "unreadable: not a valid PDF"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(Unreadable) as refused:
        open_document(path)
    assert refused.value.reason.startswith(reason)


def test_a_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    path = pdf(tmp_path / "secret.pdf", ["Salaries."], password="hunter2")
    with pytest.raises(Unreadable, match="password-protected PDF"):
        open_document(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without permission")
def test_a_file_without_read_permission_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "private.md"
    path.write_text("# Secret\n\ntext")
    path.chmod(0)
    try:
        with pytest.raises(Unreadable, match="unreadable: Permission denied"):
            open_document(path)
    finally:
        path.chmod(0o644)


def test_text_that_is_not_utf8_is_decoded_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Caf\xe9 au lait at ten; cr\xe8me br\xfbl\xe9e at noon.".encode("latin-1"))
    document = open_document(path)
    (section,) = list(document.sections())
    assert section.text == "Caf\ufffd au lait at ten; cr\ufffdme br\ufffdl\ufffde at noon."
    assert document.warnings == ["latin.txt: not UTF-8, decoded with replacement characters"]


def test_a_utf8_character_split_across_read_blocks_survives(tmp_path: Path) -> None:
    path = tmp_path / "accents.txt"
    text = ("é" * 700_000) + "\nend"  # 1.4 MB: the first read block ends inside a character
    path.write_text(text)
    document = open_document(path)
    assert "".join(s.text for s in document.sections()).replace("\n", "") == text.replace("\n", "")
    assert document.warnings == []


# -- chunking ----------------------------------------------------------------------------------

HANDBOOK = [
    Section(("Offices",), "We have offices in three cities.", "# Offices"),
    Section(("Offices", "Oslo"), ("The Oslo office is at Storgata 5. " * 40).strip(), "## Oslo"),
    Section(("Offices", "Lisbon"), "The Lisbon office is at Rua Augusta 10.", "## Lisbon"),
]
SMALL = ChunkSizes(chunk=64, overlap=8, child=24, child_overlap=4, parent=128)


def test_split_spans_cover_the_text_at_boundaries_with_overlap() -> None:
    text = " ".join(f"w{i}." for i in range(300))
    spans = split_spans(text, 100, 20)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (start, end), (following, _) in itertools.pairwise(spans):
        assert end - start <= 100
        assert start < following < end  # overlapping, always moving on
        assert text[end - 1] == " " and text[following - 1] == " "  # cut between words


def test_headings_chunks_stay_inside_their_section() -> None:
    chunks = list(chunk_sections(HANDBOOK, "headings", SMALL))
    assert all(isinstance(c, Chunk) and c.parent is None for c in chunks)
    headings = [c.heading for c in chunks]
    assert headings[0] == ("Offices",) and headings[-1] == ("Offices", "Lisbon")
    oslo = [c.text for c in chunks if c.heading == ("Offices", "Oslo")]
    assert len(oslo) > 3 and all(len(t) <= 64 * 4 for t in oslo)
    assert all("Lisbon" not in t for t in oslo)


def test_parent_child_children_point_to_bounded_parents() -> None:
    pieces = list(chunk_sections(HANDBOOK, "parent-child", SMALL))
    parents = {p.number: p for p in pieces if isinstance(p, Parent)}
    children = [c for c in pieces if isinstance(c, Chunk)]
    assert all(len(p.text) <= 128 * 4 for p in parents.values())
    assert len(children) > len(parents) > len(HANDBOOK)
    for child in children:
        assert child.parent is not None
        parent = parents[child.parent]
        assert child.text in parent.text and child.heading == parent.heading
    # a parent comes before its children: a stream can store it first
    seen: set[int] = set()
    for piece in pieces:
        if isinstance(piece, Parent):
            seen.add(piece.number)
        else:
            assert piece.parent in seen


def test_fixed_windows_ignore_headings() -> None:
    chunks = list(chunk_sections(HANDBOOK, "fixed", SMALL))
    assert all(c.heading == () and c.parent is None for c in chunks)
    assert chunks[0].text.startswith("# Offices\nWe have offices")
    assert any("## Lisbon" in c.text for c in chunks)  # heading lines are plain text here
    assert all(len(c.text) <= 64 * 4 for c in chunks)
