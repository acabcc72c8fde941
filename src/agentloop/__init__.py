"""agentloop: run AI coding agents in durable, supervised loops until a plan is done."""

__version__ = "0.1.0"
__all__ = ["__version__"]
