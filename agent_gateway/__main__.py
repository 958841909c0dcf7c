"""``python -m agent_gateway`` runs the CLI."""

from .cli import main_exit

main_exit()
