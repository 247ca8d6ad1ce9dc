"""``python_exec``: a tool that runs Python code in a sandbox and reports what it printed."""

from __future__ import annotations

import inspect

from langchain_core.tools import BaseTool, StructuredTool

from agentlab.tools._meta import with_meta
from agentlab.tools._sandbox import SandboxLimits, SandboxResult, run_sandboxed

__all__ = ["make_python_exec", "python_exec"]


def make_python_exec(limits: SandboxLimits | None = None) -> BaseTool:
    """A ``python_exec`` tool whose runs use ``limits`` (default: :class:`SandboxLimits`)."""
    limits = limits or SandboxLimits()

    def python_exec(code: str) -> str:
        """Run Python code in a sandbox and return what it prints.

        Each call is a fresh program in an empty directory: nothing is kept between calls, there
        is no network, and time and memory are limited. Packages beyond the standard library may
        be missing. Use print() for every value you want to see.

        Args:
            code: a complete Python program, e.g. "print(sum(range(10)))"
        """
        try:
            result = run_sandboxed(code, limits)
        except OSError as exc:  # the sandbox itself, not the code, failed
            return f"[the sandbox could not start: {exc}]"
        return _report(result)

    summary = " ".join((inspect.getdoc(python_exec) or "").split("\n\nArgs:")[0].split())
    limits_line = (
        f" Limits per call: {limits.wall_time_s:g} s, {limits.cpu_time_s} s of CPU, "
        f"{limits.memory_mb} MiB of memory."
    )
    made = StructuredTool.from_function(
        python_exec,
        description=summary + limits_line,  # the model sees the limits it must respect
        parse_docstring=True,
        error_on_invalid_docstring=False,
    )
    # Contained code cannot act on the outside world; the sandbox keeps its own clock, so the
    # runner's timeout only guards against the sandbox itself hanging.
    return with_meta(made, side_effects="read-only", timeout_s=limits.wall_time_s + 10, retries=0)


def _report(result: SandboxResult) -> str:
    """The model's view of a run: output, errors, and why it stopped, in a few lines."""
    parts = []
    if result.stdout:
        parts.append(result.stdout.rstrip("\n"))
    if result.stderr:
        parts.append("stderr:\n" + result.stderr.rstrip("\n"))
    if result.killed_reason:
        parts.append(f"[stopped: {result.killed_reason}]")
    elif result.exit_code:
        parts.append(f"[exit code {result.exit_code}]")
    elif not parts:
        parts.append("[no output: print() the values you want to see]")
    if result.isolation != "namespaces":
        parts.append(f"[warning: sandbox isolation is {result.isolation}]")
    return "\n".join(parts)


python_exec = make_python_exec()
