"""What a memory's text may be: decoded, non-empty, and bounded."""

from __future__ import annotations

from agentlab.errors import UsageError

__all__ = ["MAX_MEMORY_CHARS", "clean_text"]

MAX_MEMORY_CHARS = 4000  # about 1,000 tokens: a memory is recalled into a bounded prompt head


def clean_text(text: str | bytes, *, limit: int = MAX_MEMORY_CHARS) -> str:
    """``text`` as valid UTF-8, stripped, at most ``limit`` characters.

    Bytes that are not UTF-8 (and lone surrogates from a mis-decoded command line) become
    U+FFFD instead of failing. Longer text is cut and says so; empty text is a usage error.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = text.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", "").strip()
    if not text:
        raise UsageError("a memory needs some text; got an empty string")
    if len(text) > limit:
        dropped = len(text) - limit
        text = f"{text[:limit].rstrip()} [truncated: {dropped} more characters not stored]"
    return text
