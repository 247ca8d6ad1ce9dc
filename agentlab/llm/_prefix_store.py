"""The KV state of a prompt prefix kept on disk, so a new process need not prefill it again.

Every CLI run is a new process, and its first model call would prefill the whole prompt head
(rules, worked example, tool list): about 7 s for the 1.5B model on 2 cores. Restoring the
head's KV cells from a file takes milliseconds. A file holds the tokens and llama.cpp's
sequence state; it is keyed by everything that shapes the KV cells (model file, context size,
cache types, llama.cpp version), written to a temporary file and renamed, and ignored (and
replaced) when it cannot be read.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["PrefixStore", "SavedPrefix"]

_MAGIC = b"AGLKV1\n"


@dataclass(frozen=True)
class SavedPrefix:
    tokens: list[int]
    state: bytes  # llama_state_seq_get_data of sequence 0


class PrefixStore:
    """One file per configuration under ``folder``; the newest head of that configuration."""

    def __init__(self, folder: Path, key: dict[str, object]) -> None:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        self.path = folder / f"{digest}.kv"

    def load(self) -> SavedPrefix | None:
        try:
            data = self.path.read_bytes()
        except OSError:
            return None
        try:
            if not data.startswith(_MAGIC):
                raise ValueError("not a prefix file")
            offset = len(_MAGIC)
            (count,) = struct.unpack_from("<I", data, offset)
            offset += 4
            tokens = np.frombuffer(data, dtype="<i4", count=count, offset=offset).tolist()
            return SavedPrefix(tokens, data[offset + 4 * count :])
        except (ValueError, struct.error):
            self.path.unlink(missing_ok=True)  # damaged: the next run writes a good one
            return None

    def save(self, tokens: list[int], state: bytes) -> None:
        """Write atomically; a failure to write only costs the next process a prefill."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".prefix-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(_MAGIC + struct.pack("<I", len(tokens)))
                    out.write(np.asarray(tokens, dtype="<i4").tobytes())
                    out.write(state)
                os.replace(temp, self.path)
            finally:
                Path(temp).unlink(missing_ok=True)
        except OSError:
            pass
