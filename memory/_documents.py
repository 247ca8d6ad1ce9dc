"""Reading the user's files into sections: a heading path and the text under it.

Markdown headings (``#`` lines and underlined titles) and HTML ``h1``-``h6`` give each section
its heading path; plain text and PDF pages have none. Text files are read in blocks and a long
section is handed on in pieces of at most :data:`MAX_SECTION_CHARS`, so a file of any size is
read in bounded memory. What cannot be read raises :class:`Unreadable` with the reason a report
shows ("empty", "binary", "password-protected PDF", ...).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from pypdf import PdfReader

__all__ = [
    "MAX_SECTION_CHARS",
    "SUFFIXES",
    "Document",
    "Section",
    "Unreadable",
    "open_document",
]

MAX_SECTION_CHARS = 32_000  # a longer section is handed on in pieces (bounded memory)
SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
_BLOCK_BYTES = 1 << 18  # 256 KiB read at a time
_SNIFF_BYTES = 8192
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_HTML_SKIPPED = {"script", "style", "noscript", "template", "head", "svg"}
_HTML_BLOCKS = {
    "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header",
    "footer", "main", "nav", "aside", "pre", "blockquote", "dd", "dt", "dl", "hr", "figure",
}  # fmt: skip


class Unreadable(Exception):
    """A file that is left out; ``reason`` says why, as a report shows it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Section:
    """Text under one heading path (``()`` when the document has no headings). ``title`` is
    the heading line as written, on the first piece of a section only ("" otherwise)."""

    heading: tuple[str, ...]
    text: str
    title: str = ""


@dataclass
class Document:
    """A readable file: :meth:`sections` streams its sections; ``warnings`` collects what was
    noticed while reading (text that was not UTF-8)."""

    path: Path
    kind: str
    warnings: list[str] = field(default_factory=list)

    def sections(self) -> Iterator[Section]:
        if self.kind == "pdf":
            yield from _pdf_sections(self.path)
            return
        with self.path.open("rb") as raw:
            text = _decoded(raw, self)
            if self.kind == "markdown":
                yield from _markdown_sections(_lines(text))
            elif self.kind == "html":
                yield from _html_sections(text)
            else:
                yield from _text_sections(_lines(text))


def open_document(path: Path) -> Document:
    """``path`` checked for what makes a file unusable before anything is stored: an
    unsupported type, no read permission, no bytes, binary content, a PDF with a password."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise Unreadable("unsupported type")
    try:
        with path.open("rb") as raw:
            head = raw.read(_SNIFF_BYTES)
    except OSError as exc:
        raise Unreadable(f"unreadable: {exc.strerror or exc}") from None
    if not head.strip():
        raise Unreadable("empty")
    if kind == "pdf":
        _open_pdf(path)
    elif b"\x00" in head or _mostly_undecodable(head):
        raise Unreadable("binary")
    return Document(path, kind)


def _mostly_undecodable(head: bytes) -> bool:
    """More than a tenth of the characters are not UTF-8: a binary file, not a text in
    another encoding (which has the odd accented letter replaced)."""
    decoded = head.decode("utf-8", errors="replace")
    if len(head) == _SNIFF_BYTES:  # the sniffed block may end inside a character
        decoded = decoded[:-3]
    return decoded.count("\ufffd") > max(len(decoded) // 10, 0)


def _decoded(raw: BinaryIO, document: Document) -> Iterator[str]:
    """The file's text in blocks. Strict UTF-8 until a byte does not fit; from there on the
    rest is decoded with replacement characters and a warning says so."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    first = True
    while block := raw.read(_BLOCK_BYTES):
        if first and block.startswith(codecs.BOM_UTF8):
            block = block[len(codecs.BOM_UTF8) :]
        first = False
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError:
            pending, _ = decoder.getstate()
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            text = decoder.decode(pending + block)
            document.warnings.append(
                f"{document.path.name}: not UTF-8, decoded with replacement characters"
            )
        yield text.replace("\x00", "")
    yield decoder.decode(b"", final=True)


def _lines(blocks: Iterator[str]) -> Iterator[str]:
    """Lines (without their ends) from text blocks; a line never spans more than one block's
    worth of carried text, so a file without line breaks stays bounded too."""
    carry = ""
    for block in blocks:
        parts = (carry + block).splitlines(keepends=True)
        carry = ""
        if parts and not parts[-1].endswith(("\n", "\r")):
            carry = parts.pop()
            if len(carry) > MAX_SECTION_CHARS:  # no line break for a long while
                yield carry
                carry = ""
        for part in parts:
            yield part.rstrip("\r\n")
    if carry:
        yield carry


class _Collector:
    """Lines under the current heading, handed on as sections of bounded size."""

    def __init__(self) -> None:
        self.heading: tuple[str, ...] = ()
        self.title = ""
        self.lines: list[str] = []
        self.size = 0

    def add(self, line: str) -> Iterator[Section]:
        self.lines.append(line)
        self.size += len(line) + 1
        if self.size >= MAX_SECTION_CHARS:
            # cut at the last blank line if there is one in the second half, else here
            cut = len(self.lines)
            for i in range(len(self.lines) - 1, len(self.lines) // 2, -1):
                if not self.lines[i].strip():
                    cut = i
                    break
            yield from self._emit(self.lines[:cut])
            self.lines = self.lines[cut:]
            self.size = sum(len(line) + 1 for line in self.lines)

    def flush(self) -> Iterator[Section]:
        yield from self._emit(self.lines)
        self.lines, self.size = [], 0

    def start(self, heading: tuple[str, ...], title: str) -> Iterator[Section]:
        yield from self.flush()
        self.heading, self.title = heading, title

    def _emit(self, lines: list[str]) -> Iterator[Section]:
        text = "\n".join(lines).strip()
        if text:
            yield Section(self.heading, text, self.title)
            self.title = ""


def _markdown_sections(lines: Iterator[str]) -> Iterator[Section]:
    collector = _Collector()
    stack: list[tuple[int, str]] = []
    fence = ""
    previous = ""

    def enter(level: int, title: str, line: str) -> Iterator[Section]:
        nonlocal stack
        stack = [(lvl, name) for lvl, name in stack if lvl < level] + [(level, title)]
        yield from collector.start(tuple(name for _, name in stack), line)

    for line in lines:
        if fence:
            fence = "" if line.strip().startswith(fence) else fence
            yield from collector.add(line)
        elif found := _FENCE.match(line):
            fence = found[1][:3]
            yield from collector.add(line)
        elif (found := _ATX.match(line)) and (found[2] or "").strip():
            yield from enter(len(found[1]), _clean_heading(found[2]), line)
        elif (
            (found := _SETEXT.match(line))
            and previous.strip()
            and collector.lines
            and collector.lines[-1] == previous
            and not re.match(r"^\s*([-*+>|]|\d+[.)])", previous)
        ):
            collector.lines.pop()  # the underlined line is the heading, not text
            level = 1 if found[1].startswith("=") else 2
            yield from enter(level, _clean_heading(previous), f"{previous}\n{line}")
        else:
            yield from collector.add(line)
        previous = line
    yield from collector.flush()


def _clean_heading(title: str) -> str:
    title = re.sub(r"[*_`]+", "", title)  # emphasis and code marks
    title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # links keep their words
    return " ".join(title.split())


def _text_sections(lines: Iterator[str]) -> Iterator[Section]:
    collector = _Collector()
    for line in lines:
        yield from collector.add(line)
    yield from collector.flush()


class _HtmlReader(HTMLParser):
    """Text and headings of an HTML page; scripts, styles and the head are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.collector = _Collector()
        self.ready: list[Section] = []
        self.stack: list[tuple[int, str]] = []
        self.skipping = 0
        self.heading_level = 0
        self.heading_words: list[str] = []
        self.line: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_SKIPPED:
            self.skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._end_line()
            self.heading_level, self.heading_words = int(tag[1]), []
        elif tag in _HTML_BLOCKS:
            self._end_line()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_BLOCKS:
            self._end_line()

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif re.fullmatch(r"h[1-6]", tag) and self.heading_level:
            level, title = self.heading_level, " ".join(" ".join(self.heading_words).split())
            self.heading_level = 0
            if title:
                self.stack = [(lvl, name) for lvl, name in self.stack if lvl < level]
                self.stack.append((level, title))
                heading = tuple(name for _, name in self.stack)
                self.ready += self.collector.start(heading, title)
        elif tag in _HTML_BLOCKS:
            self._end_line()

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.heading_level:
            self.heading_words.append(data)
        else:
            self.line.append(data)
            if sum(map(len, self.line)) > MAX_SECTION_CHARS // 4:
                self._end_line()

    def _end_line(self) -> None:
        text = " ".join("".join(self.line).split())
        self.line = []
        if text:
            self.ready += self.collector.add(text)

    def finish(self) -> None:
        self.close()
        self._end_line()
        self.ready += self.collector.flush()


def _html_sections(blocks: Iterator[str]) -> Iterator[Section]:
    reader = _HtmlReader()
    for block in blocks:
        reader.feed(block)
        yield from reader.ready
        reader.ready = []
    reader.finish()
    yield from reader.ready


def _open_pdf(path: Path) -> PdfReader:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("password-protected PDF")
        len(reader.pages)  # reads the page tree: fails here on a damaged file
    except Unreadable:
        raise
    except DependencyError:
        raise Unreadable(
            "unreadable: encrypted PDF needs the cryptography package (pip install cryptography)"
        ) from None
    except (PdfReadError, OSError, ValueError, KeyError, TypeError) as exc:
        raise Unreadable(f"unreadable: not a valid PDF ({exc})") from None
    return reader


def _pdf_sections(path: Path) -> Iterator[Section]:
    """One section per page (a PDF's text carries no headings that survive extraction)."""
    from pypdf.errors import PdfReadError

    for number, page in enumerate(_open_pdf(path).pages, start=1):
        try:
            text = page.extract_text() or ""
        except (PdfReadError, ValueError, KeyError, TypeError) as exc:
            raise Unreadable(f"unreadable: page {number} of the PDF is damaged ({exc})") from None
        collector = _Collector()
        for line in text.splitlines():
            yield from collector.add(line.rstrip())
        yield from collector.flush()
