"""Every exception agentlab raises, in one place.

AgentlabError
├── UsageError              the user asked for something invalid; shown without traceback
│   ├── ToolLoadError       a --tools entry cannot be imported or is not a tool
│   └── ModelNotFoundError  the model is neither a known name nor an existing file
└── RunError                a run or an operation failed; the result says why
    ├── ModelFileError      a GGUF is corrupt, truncated or fails its checksum
    ├── ModelPullError      fetching a model from the package registry failed
    ├── BackendError        a model server (--backend) did not answer or failed a request
    ├── ContextOverflowError  the prompt does not fit the model's context window
    ├── StoreError          a local store (SQLite) is unreadable, corrupt or locked
    ├── ToolTimeoutError    a tool call ran past its timeout
    └── TransientToolError  raised by a tool: this call may succeed if retried
"""

from __future__ import annotations

__all__ = [
    "AgentlabError",
    "BackendError",
    "ContextOverflowError",
    "ModelFileError",
    "ModelNotFoundError",
    "ModelPullError",
    "RunError",
    "StoreError",
    "ToolLoadError",
    "ToolTimeoutError",
    "TransientToolError",
    "UsageError",
]


class AgentlabError(Exception):
    """Base of every agentlab exception."""


class UsageError(AgentlabError):
    """A mistake in what the user asked for: the message says what and how to fix it."""


class ToolLoadError(UsageError):
    """A tool specification (``MODULE:ATTR``) cannot be loaded."""


class ModelNotFoundError(UsageError):
    """The requested model is not a known name and not an existing GGUF file."""


class RunError(AgentlabError):
    """Something failed while running; not the user's input."""


class ModelFileError(RunError):
    """A model file is corrupt, truncated or does not match its checksum."""


class ModelPullError(RunError):
    """A model could not be fetched."""


class BackendError(RunError):
    """A model server (``--backend``) is unreachable, timed out, or failed a request; the
    message names its URL."""


class ContextOverflowError(RunError):
    """A prompt is longer than the model's context window."""


class StoreError(RunError):
    """A local store (SQLite under ``AGENTLAB_HOME``) cannot be opened or written."""


class ToolTimeoutError(RunError):
    """A tool call ran past its ``timeout_s`` (the model reads it as the call's failure)."""


class TransientToolError(RunError):
    """Raise it from a tool when the failure is temporary (a busy service, a lost connection):
    the call is retried with backoff. Any other exception is reported to the model at once."""
