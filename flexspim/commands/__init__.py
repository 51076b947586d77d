"""Sub-commands of the CLI, one module each (see `flexspim.cli.COMMANDS`)."""
