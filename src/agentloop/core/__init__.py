"""Pure domain logic shared by every other package: config, plan, completion, prompts,
events, types and templates. Imports nothing from the rest of agentloop."""
