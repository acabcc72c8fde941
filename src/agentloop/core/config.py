"""Loading a run's configuration (SPEC 16): layers, precedence, validation.

Precedence, highest first: overrides (``loopctl`` flags, the API's ``config_override``) >
the ``--config`` file (else ``$LOOP_CONFIG``) > ``<workspace>/.loop/config`` > defaults.
A layer may spell a key by its old name (``claude_timeout_sec`` for ``agent_timeout_sec``);
if one layer gives both spellings, the canonical one wins whatever their order, and a
higher layer's alias still beats a lower layer's canonical key. Every value of every layer
is checked: a bad one raises :class:`ConfigError` naming key, value, what is allowed and
where (``file:line``). An unknown key is only a warning. An empty value for a key derived
from another (``review_model``) means "derive it".
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentloop.core.config_keys import ALIASES, KEYS, Config, KeySpec, PermissionMode, with_derived
from agentloop.core.config_text import (
    ConfigLayer,
    format_config_value,
    parse_config_text,
    read_config_file,
)
from agentloop.core.config_values import Choice, Items
from agentloop.core.errors import ConfigError
from agentloop.core.workspace import CONFIG_FILE

__all__ = [
    "ALIASES",
    "CONFIG_ENV",
    "KEYS",
    "Config",
    "ConfigLayer",
    "KeySpec",
    "LoadedConfig",
    "PermissionMode",
    "default_config_text",
    "layer_from_mapping",
    "load_config",
    "parse_config_text",
    "read_config_file",
    "resolve",
]

CONFIG_ENV = "LOOP_CONFIG"
_DERIVE = object()
"""Marks a derived key set to empty: take it from its source key, whatever lower layers say."""


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    warnings: list[str]
    """One line per unknown key, with its source."""
    explicit_keys: frozenset[str]
    """Canonical keys set by some layer (not left to their defaults)."""


def load_config(
    workspace: Path,
    *,
    config_file: Path | None = None,
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Load the configuration of a run in ``workspace``.

    ``config_file`` (else ``$LOOP_CONFIG`` from ``environ``, default ``os.environ``) must
    exist; a relative path is taken against the workspace, since the daemon's own working
    directory means nothing to a client (``loopctl`` makes ``--config`` absolute).
    ``overrides`` take the file's string forms, see :func:`layer_from_mapping`.
    """
    layers: list[ConfigLayer] = []
    workspace_file = workspace / CONFIG_FILE
    if workspace_file.exists():
        layers.append(read_config_file(workspace_file))
    env = os.environ if environ is None else environ
    chosen = config_file or env.get(CONFIG_ENV) or None
    if chosen:
        layers.append(read_config_file(workspace / chosen))
    if overrides:
        layers.append(layer_from_mapping(overrides))
    return resolve(layers)


def layer_from_mapping(values: Mapping[str, object], source: str = "overrides") -> ConfigLayer:
    """A layer from a mapping (flags, a JSON object). Strings are taken as in a file; for
    convenience ``True``/``False`` become ``true``/``false``, numbers their decimal text,
    ``None`` the empty string (unset), and a list of strings is joined by the key's list
    separator."""
    return ConfigLayer(
        source=source, values={key: _as_text(key, value, source) for key, value in values.items()}
    )


def resolve(layers: Sequence[ConfigLayer]) -> LoadedConfig:
    """Merge ``layers`` (lowest precedence first) over the defaults into a valid Config."""
    merged: dict[str, Any] = {}
    warnings: list[str] = []
    for layer in layers:
        merged.update(_typed(layer, warnings))
    merged = {key: value for key, value in merged.items() if value is not _DERIVE}
    explicit = frozenset(merged)
    where = {key: layer.where(key) for layer in layers for key in layer.values}
    try:
        config = Config(**with_derived(merged))
    except ConfigError as exc:
        key, value, allowed = (exc.facts[fact] for fact in ("key", "value", "allowed"))
        raise ConfigError(key, value, allowed, where.get(key)) from None
    return LoadedConfig(config=config, warnings=warnings, explicit_keys=explicit)


def default_config_text() -> str:
    """The commented file ``loopctl init`` writes: every key with its meaning and default,
    commented out, so the file documents everything and changes nothing."""
    out = [
        "# agentloop configuration (.loop/config): key=value lines, '#' starts a comment.",
        "# Values may be quoted with '...' or \"...\". Lists are '|'-separated",
        "# (context_files: space-separated). Precedence: loopctl flags > --config FILE",
        "# (or $LOOP_CONFIG) > this file > defaults. Every key below shows its default:",
        "# uncomment a line to change it.",
    ]
    for spec in KEYS.values():
        choices = ""
        if isinstance(spec.kind, Choice):
            choices = " One of " + "|".join(member.value for member in spec.kind.enum) + "."
        aliases = f" Alias: {', '.join(spec.aliases)}." if spec.aliases else ""
        default = "" if spec.derived_from else format_config_value(spec.kind.format(spec.default))
        out += ["", f"# {spec.doc}{choices}{aliases}", f"# {spec.name}={default}"]
    return "\n".join(out) + "\n"


def _typed(layer: ConfigLayer, warnings: list[str]) -> dict[str, Any]:
    typed: dict[str, Any] = {}
    # Aliases first, so that a canonical key in the same layer overrides its alias.
    for key in sorted(layer.values, key=lambda k: k in KEYS):
        name = ALIASES.get(key, key)
        spec = KEYS.get(name)
        text = layer.values[key]
        if spec is None:
            warnings.append(_unknown(key, layer.where(key)))
        elif spec.derived_from and text.strip() == "":
            typed[name] = _DERIVE
        else:
            try:
                typed[name] = spec.kind.parse(text)
            except ValueError as exc:
                raise ConfigError(key, text, str(exc), layer.where(key)) from None
    return typed


def _unknown(key: str, where: str) -> str:
    guess = difflib.get_close_matches(key, [*KEYS, *ALIASES], n=1)
    hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    return f"{where}: unknown config key {key!r} ignored{hint}"


def _as_text(key: str, value: object, source: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        spec = KEYS.get(ALIASES.get(key, key))
        separator = spec.kind.separator if spec and isinstance(spec.kind, Items) else "|"
        return (separator or " ").join(value)
    raise ConfigError(key, value, "a string, number, boolean, null or list of strings", source)
