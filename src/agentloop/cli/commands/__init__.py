"""loopctl commands, one module each, registered by name in agentloop.cli.main."""
