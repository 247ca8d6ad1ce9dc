"""The GBNF grammar of a turn's JSON schema, as llama.cpp's samplers take it."""

from __future__ import annotations

import functools

__all__ = ["gbnf"]


@functools.lru_cache(maxsize=64)
def gbnf(schema: str) -> str:
    """The GBNF grammar (start rule ``root``) of a JSON schema given as JSON text; one converter
    for every llama.cpp engine, so in-process and server turns are constrained alike."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return str(json_schema_to_gbnf(schema))
