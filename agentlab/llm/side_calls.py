"""Side calls: a model call beside the conversation (a summary, a verdict, a reflection).

A model with a prefix cache loses the conversation's cached prompt when a side call with another
prompt runs in between, and the next conversation turn prefills its whole prompt again. A model
that can keep its cache across side calls says so by having ``for_side_calls()``; graphs make
their side calls through ``side_model(model)`` and need not know which model they have.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from langchain_core.language_models import BaseChatModel

__all__ = ["SupportsSideCalls", "side_model"]


@runtime_checkable
class SupportsSideCalls(Protocol):
    def for_side_calls(self) -> BaseChatModel:
        """The same model, whose calls leave the conversation's cached prefix in place."""
        ...


def side_model(model: BaseChatModel) -> BaseChatModel:
    """The model to make side calls with: ``model.for_side_calls()`` where the model can keep
    its cache across them, else ``model`` itself."""
    if isinstance(model, SupportsSideCalls):
        return model.for_side_calls()
    return model
