"""The GBNF grammar of a turn's JSON schema, as llama.cpp's samplers take it."""

from __future__ import annotations

import functools
from collections.abc import Callable

__all__ = ["converter", "gbnf"]


@functools.cache
def converter() -> Callable[[str], str]:
    """llama.cpp's JSON-schema-to-GBNF converter, imported on first use (it loads llama.cpp's
    library). A server engine asks for it when it is built, so that an event loop never waits
    on the import at its first turn."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return json_schema_to_gbnf


@functools.lru_cache(maxsize=64)
def gbnf(schema: str) -> str:
    """The GBNF grammar (start rule ``root``) of a JSON schema given as JSON text; one converter
    for every llama.cpp engine, so in-process and server turns are constrained alike."""
    return str(converter()(schema))
