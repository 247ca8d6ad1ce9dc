"""``python -m agentlab`` is the ``agentlab`` command."""

from agentlab.cli import main

main()
