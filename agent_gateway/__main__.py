"""``python -m agent_gateway`` runs the CLI."""

from agent_gateway.cli import main_exit

main_exit()
