import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentloop.core.config import (
    ALIASES,
    KEYS,
    Config,
    PermissionMode,
    default_config_text,
    layer_from_mapping,
    load_config,
    parse_config_text,
    resolve,
)
from agentloop.core.config_text import format_config_value
from agentloop.core.config_values import Boolean, Choice, Integer, Items, Number, OrNone, Text
from agentloop.core.errors import ConfigError
from agentloop.core.types import (
    AgentName,
    ArtifactMode,
    CompletionMode,
    MergeStrategy,
    MetricGoal,
    NamingMode,
    NotifyFormat,
    QueuePolicy,
    RunMode,
    WatchdogExhausted,
    WorktreeProviderName,
)

SPEC_DEFAULTS = {
    "specs_dir": "specs",
    "plans_dir": "specs/planning",
    "log_dir": "logs/loop",
    "model": "opus",
    "review_model": "opus",
    "codex_model": None,
    "gemini_model": None,
    "opencode_model": None,
    "agent": AgentName.CLAUDE,
    "agent_cmd": None,
    "permission_mode": PermissionMode.BYPASS_PERMISSIONS,
    "iterations": 50,
    "completion_mode": CompletionMode.TRAILING,
    "reviewer": True,
    "prompt_file": None,
    "context_files": (),
    "verify_cmds": (),
    "verify_timeout_sec": 0,
    "agent_timeout_sec": 600,
    "agent_retries": 0,
    "agent_retry_backoff_sec": 5.0,
    "artifact_mode": ArtifactMode.MIRROR,
    "global_log_dir": None,
    "run_naming_mode": NamingMode.HAIKU,
    "run_naming_model": "haiku",
    "base_branch": None,
    "run_branch_prefix": "run/",
    "merge_target_branch": None,
    "merge_strategy": MergeStrategy.SQUASH,
    "worktree_path_template": "../{{ repo }}.{{ run_branch | sanitize }}",
    "worktree_provider": WorktreeProviderName.AUTO,
    "worktrunk_bin": "wt",
    "worktrunk_config_path": None,
    "worktrunk_copy_ignored": False,
    "worktree_cleanup": True,
    "summary_json": True,
    "postmortem": True,
    "max_concurrency": 3,
    "max_runs_per_workspace": None,
    "queue_policy": QueuePolicy.FIFO,
    "watchdog_max_rewrites": 2,
    "watchdog_exhausted": WatchdogExhausted.PAUSE,
    "max_consecutive_verification_failures": 3,
    "max_consecutive_review_failures": 0,
    "max_cost_usd": None,
    "max_runtime_sec": None,
    "fallback_agents": (),
    "usage_limit_wait_sec": 900,
    "verify_merge": True,
    "notify_webhook": None,
    "notify_format": NotifyFormat.JSON,
    "mode": RunMode.PLAN,
    "measure_cmd": None,
    "measure_timeout_sec": 0,
    "metric": None,
    "metric_goal": MetricGoal.MAX,
    "metric_target": None,
    "experiment_patience": 5,
}


def load(text: str, **overrides: object) -> Config:
    layers = [parse_config_text(text, "cfg")]
    if overrides:
        layers.append(layer_from_mapping(overrides))
    return resolve(layers).config


def test_every_key_of_the_spec_with_its_default() -> None:
    assert dataclasses.asdict(Config()) == SPEC_DEFAULTS
    assert list(KEYS) == list(SPEC_DEFAULTS)
    assert ALIASES == {
        "claude_timeout_sec": "agent_timeout_sec",
        "claude_retries": "agent_retries",
        "claude_retry_backoff_sec": "agent_retry_backoff_sec",
    }


def test_every_default_is_a_valid_value_that_survives_the_text_form() -> None:
    for spec in KEYS.values():
        assert spec.kind.check(spec.default) == spec.default
        assert spec.kind.parse(spec.kind.format(spec.default)) == spec.default


def test_typed_values_from_text() -> None:
    config = load(
        """
        model=sonnet
        iterations = 7
        reviewer=off
        completion_mode=exact
        verify_cmds=make test | ruff check .
        context_files=docs/a.md  docs/b.md
        fallback_agents=codex|gemini
        max_cost_usd=2.5
        max_runtime_sec=3600
        max_runs_per_workspace=1
        agent_retry_backoff_sec=0.5
        merge_target_branch=agent/auth
        notify_webhook=https://hooks.example.com/loop
        permission_mode=acceptEdits
        """
    )
    assert config.model == "sonnet"
    assert config.iterations == 7
    assert config.reviewer is False
    assert config.completion_mode is CompletionMode.EXACT
    assert config.verify_cmds == ("make test", "ruff check .")
    assert config.context_files == ("docs/a.md", "docs/b.md")
    assert config.fallback_agents == (AgentName.CODEX, AgentName.GEMINI)
    assert config.max_cost_usd == 2.5
    assert config.max_runtime_sec == 3600
    assert config.max_runs_per_workspace == 1
    assert config.agent_retry_backoff_sec == 0.5
    assert config.merge_target_branch == "agent/auth"
    assert config.notify_webhook == "https://hooks.example.com/loop"
    assert config.permission_mode is PermissionMode.ACCEPT_EDITS


def test_review_model_follows_the_resolved_model_unless_set() -> None:
    assert load("model=sonnet").review_model == "sonnet"
    assert load("model=sonnet\nreview_model=haiku").review_model == "haiku"
    assert load("review_model=haiku", model="sonnet").review_model == "haiku"
    assert load("review_model=haiku", review_model="").review_model == "opus"
    assert load("review_model=").review_model == "opus"


def test_empty_value_unsets_an_optional_key() -> None:
    assert (
        load("max_runs_per_workspace=2", max_runs_per_workspace=None).max_runs_per_workspace is None
    )
    assert load("base_branch=").base_branch is None


@pytest.mark.parametrize(
    ("line", "allowed"),
    [
        ("iterations=0", "an integer >= 1"),
        ("iterations=many", "an integer >= 1"),
        ("agent_timeout_sec=-1", "an integer >= 0"),
        ("claude_timeout_sec=-1", "an integer >= 0"),
        ("max_concurrency=0", "an integer >= 1"),
        ("max_runs_per_workspace=0", "an integer >= 1, or empty for none"),
        ("max_cost_usd=0", "a number > 0"),
        ("max_cost_usd=free", "a number > 0"),
        ("max_runtime_sec=0", "an integer >= 1"),
        ("reviewer=maybe", "one of true, false, 1, 0, yes, no, on, off"),
        ("agent=gpt", "one of claude, codex, gemini, opencode, command, scripted"),
        ("fallback_agents=codex|gpt", "agent names separated by '|'"),
        ("completion_mode=strict", "one of trailing, exact"),
        ("merge_strategy=rebase", "one of squash, merge, none"),
        ("queue_policy=lifo", "one of fifo, newest_first"),
        ("worktree_provider=svn", "one of auto, git, worktrunk"),
        ("artifact_mode=cloud", "one of mirror, workspace, global"),
        ("run_naming_mode=random", "one of haiku, spec_slug"),
        ("permission_mode=yolo", "one of default, acceptEdits, plan, bypassPermissions"),
        ("notify_webhook=ftp://x", "an http:// or https:// URL"),
        ("notify_webhook=not a url", "an http:// or https:// URL"),
        ("model=", "a model name"),
        ("worktree_path_template={{ nope }}", "unknown template variable 'nope'"),
        ("base_branch=a..b", "a valid git branch name"),
        ("merge_target_branch=has space", "a valid git branch name"),
        ("run_branch_prefix=run~", "a valid git branch name prefix"),
        ("specs_dir=a\x01b", "without control characters"),
    ],
)
def test_bad_values_name_key_value_allowed_and_line(line: str, allowed: str) -> None:
    key, _, value = line.partition("=")
    with pytest.raises(ConfigError) as caught:
        load(f"# first line\n{line}\n")
    error = caught.value
    assert error.facts["key"] == key
    assert error.facts["value"] == value
    assert allowed in error.facts["allowed"]
    assert error.facts["source"] == "cfg:2"
    assert f"'{key}' in cfg:2" in str(error) and repr(value) in str(error)


def test_agent_command_needs_agent_cmd() -> None:
    with pytest.raises(ConfigError, match=r"'agent' in cfg:1.*agent_cmd"):
        load("agent=command")
    with pytest.raises(ConfigError, match=r"'fallback_agents' in cfg:2.*agent_cmd"):
        load("# x\nfallback_agents=codex|command")
    with pytest.raises(ConfigError, match="agent_cmd"):
        load("fallback_agents=command")
    assert load("agent=command\nagent_cmd=./my-agent --fast").agent_cmd == "./my-agent --fast"


def test_unknown_keys_are_warnings_with_a_hint() -> None:
    loaded = resolve([parse_config_text("modell=opus\nzzz=1\nmodel=x", "cfg")])
    assert loaded.config.model == "x"
    assert loaded.warnings == [
        "cfg:1: unknown config key 'modell' ignored (did you mean 'model'?)",
        "cfg:2: unknown config key 'zzz' ignored",
    ]
    assert loaded.explicit_keys == frozenset({"model"})


def test_aliases_and_canonical_names() -> None:
    assert load("claude_timeout_sec=30").agent_timeout_sec == 30
    assert load("claude_retries=2\nclaude_retry_backoff_sec=1").agent_retries == 2
    # Both spellings in one layer: the canonical one wins, whatever the order.
    assert load("agent_timeout_sec=10\nclaude_timeout_sec=20").agent_timeout_sec == 10
    assert load("claude_timeout_sec=20\nagent_timeout_sec=10").agent_timeout_sec == 10
    # A higher layer's alias beats a lower layer's canonical key.
    assert load("agent_timeout_sec=10", claude_timeout_sec="20").agent_timeout_sec == 20


def test_an_ignored_alias_is_still_checked() -> None:
    with pytest.raises(ConfigError, match="claude_retries"):
        load("agent_retries=1\nclaude_retries=-5")


def test_explicit_keys_are_canonical_names_set_by_any_layer() -> None:
    loaded = resolve(
        [
            parse_config_text("max_concurrency=5\nclaude_retries=1", "ws"),
            layer_from_mapping({"queue_policy": "newest_first"}),
        ]
    )
    assert loaded.explicit_keys == frozenset({"max_concurrency", "agent_retries", "queue_policy"})
    assert resolve([]).explicit_keys == frozenset()
    assert resolve([]).config == Config()


def test_overrides_accept_plain_json_values() -> None:
    config = load(
        "",
        reviewer=False,
        iterations=3,
        max_cost_usd=1.5,
        verify_cmds=["make a", "make b"],
        context_files=["x.md", "y.md"],
        fallback_agents=("codex",),
        max_runtime_sec=None,
    )
    assert config.reviewer is False and config.iterations == 3 and config.max_cost_usd == 1.5
    assert config.verify_cmds == ("make a", "make b")
    assert config.context_files == ("x.md", "y.md")
    assert config.fallback_agents == (AgentName.CODEX,)
    with pytest.raises(ConfigError, match="a string, number, boolean"):
        layer_from_mapping({"iterations": {"nested": 1}})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_load_config_precedence(tmp_path: Path) -> None:
    write(tmp_path / ".loop/config", "model=ws\niterations=10\nreviewer=false\nmax_concurrency=4\n")
    extra = write(tmp_path / "extra.cfg", "model=file\niterations=20\n")
    loaded = load_config(tmp_path, config_file=extra, overrides={"model": "flag"}, environ={})
    assert loaded.config.model == "flag"
    assert loaded.config.iterations == 20
    assert loaded.config.reviewer is False
    assert loaded.config.max_concurrency == 4
    assert loaded.config.verify_timeout_sec == 0
    assert loaded.explicit_keys == frozenset({"model", "iterations", "reviewer", "max_concurrency"})


def test_load_config_reads_loop_config_from_the_environment(tmp_path: Path) -> None:
    write(tmp_path / "env.cfg", "model=from-env\n")
    write(tmp_path / "flag.cfg", "model=from-flag\n")
    assert load_config(tmp_path, environ={"LOOP_CONFIG": "env.cfg"}).config.model == "from-env"
    flagged = load_config(
        tmp_path, config_file=tmp_path / "flag.cfg", environ={"LOOP_CONFIG": "env.cfg"}
    )
    assert flagged.config.model == "from-flag"
    assert load_config(tmp_path, environ={"LOOP_CONFIG": ""}).config == Config()


def test_load_config_without_any_file_gives_defaults(tmp_path: Path) -> None:
    loaded = load_config(tmp_path, environ={})
    assert loaded.config == Config() and loaded.warnings == [] and not loaded.explicit_keys


def test_load_config_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / ".loop/config", "model=x\n\niterations=-3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, environ={})
    assert caught.value.facts["source"] == f"{path}:3"
    with pytest.raises(ConfigError, match="a readable file"):
        load_config(tmp_path / "elsewhere", config_file=Path("missing.cfg"), environ={})


def test_a_bad_value_in_a_lower_layer_is_an_error_even_if_overridden(tmp_path: Path) -> None:
    write(tmp_path / ".loop/config", "iterations=zero\n")
    with pytest.raises(ConfigError, match="iterations"):
        load_config(tmp_path, overrides={"iterations": "3"}, environ={})


def test_default_config_text_documents_every_key_and_changes_nothing() -> None:
    text = default_config_text()
    for name in KEYS:
        assert re.search(rf"^# {name}=", text, re.MULTILINE), name
    assert "# agent_timeout_sec=600" in text
    assert "# worktree_path_template=../{{ repo }}.{{ run_branch | sanitize }}" in text
    assert "Alias: claude_timeout_sec" in text
    assert "One of claude|codex|gemini|opencode|command|scripted." in text
    loaded = resolve([parse_config_text(text, "init")])
    assert loaded.config == Config() and not loaded.explicit_keys and not loaded.warnings


def test_default_config_text_uncommented_gives_the_defaults() -> None:
    lines = [line[2:] for line in default_config_text().splitlines() if re.match(r"# \w+=", line)]
    loaded = resolve([parse_config_text("\n".join(lines), "uncommented")])
    assert loaded.config == Config()
    assert loaded.warnings == []
    assert loaded.explicit_keys == frozenset(KEYS) - {"review_model"}


def test_config_is_frozen_and_checked_on_construction() -> None:
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.model = "x"  # type: ignore[misc]
    with pytest.raises(ConfigError, match="iterations"):
        Config(iterations=0)
    with pytest.raises(ConfigError, match="agent"):
        Config(agent="claude")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="verify_cmds"):
        Config(verify_cmds=["make"])  # type: ignore[arg-type]


def test_to_json_is_json_safe_with_enum_values() -> None:
    data = Config(fallback_agents=(AgentName.CODEX,), verify_cmds=("a",)).to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["agent"] == "claude" and data["fallback_agents"] == ["codex"]
    assert data["verify_cmds"] == ["a"] and data["max_cost_usd"] is None
    assert set(data) == set(KEYS)


def test_from_json_fills_missing_keys_ignores_unknown_ones_and_checks_values() -> None:
    assert Config.from_json({}) == Config()
    assert Config.from_json({"model": "sonnet", "gone_key": 1}).review_model == "sonnet"
    with pytest.raises(ConfigError, match="config key 'iterations' in config snapshot"):
        Config.from_json({"iterations": "5"})
    with pytest.raises(ConfigError, match="agent"):
        Config.from_json({"agent": "gpt"})


# Hypothesis: one strategy per value kind, from the key table itself.
printable = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="|"),
    min_size=1,
).filter(lambda s: s == s.strip() and bool(s.split()))


def values_of(kind: Any) -> st.SearchStrategy[Any]:
    if isinstance(kind, OrNone):
        return st.none() | values_of(kind.inner)
    if isinstance(kind, Boolean):
        return st.booleans()
    if isinstance(kind, Integer):
        return st.integers(min_value=kind.minimum, max_value=10**12)
    if isinstance(kind, Number):
        low = -1e12 if kind.minimum is None else kind.minimum
        return st.floats(min_value=low, max_value=1e12, exclude_min=kind.exclusive)
    if isinstance(kind, Choice):
        return st.sampled_from(list(kind.enum))
    if isinstance(kind, Items):
        item = values_of(kind.item)
        if kind.separator is None:
            item = item.filter(lambda s: len(s.split()) == 1)
        return st.lists(item, max_size=4).map(tuple)
    if isinstance(kind, Text):
        return st.nothing() if kind.validate else printable
    raise AssertionError(kind)


def config_values() -> st.SearchStrategy[dict[str, Any]]:
    fields = {name: values_of(spec.kind) for name, spec in KEYS.items()}
    # Keys whose text is checked by a function of their own get sample values.
    fields["base_branch"] = st.sampled_from([None, "main", "dev/x"])
    fields["merge_target_branch"] = st.sampled_from([None, "agent/auth"])
    fields["run_branch_prefix"] = st.sampled_from(["", "run/", "ai-"])
    fields["worktree_path_template"] = st.sampled_from(["{{ run_id }}", "/wt/{{ name|sanitize }}"])
    fields["notify_webhook"] = st.sampled_from([None, "https://example.com/h"])
    fields["agent_cmd"] = st.sampled_from(["./agent", "my agent --x"])
    fields["measure_cmd"] = st.sampled_from(["python3 bench.py", "make measure"])
    fields["metric"] = st.sampled_from(["score", "p99_ms"])
    return st.fixed_dictionaries(fields)


@given(config_values())
def test_json_snapshot_round_trips_exactly(values: dict[str, Any]) -> None:
    config = Config(**values)
    data = json.loads(json.dumps(config.to_json()))
    assert Config.from_json(data) == config
    assert Config.from_json(data).to_json() == data


@given(config_values())
def test_text_form_round_trips_exactly(values: dict[str, Any]) -> None:
    config = Config(**values)
    text = "\n".join(
        f"{name}={format_config_value(spec.kind.format(getattr(config, name)))}"
        for name, spec in KEYS.items()
    )
    assert resolve([parse_config_text(text, "gen")]).config == config


config_lines = st.one_of(
    st.text(),
    st.builds(
        "{}={}".format,
        st.sampled_from([*KEYS, *ALIASES, "nope"]),
        st.one_of(
            st.text(),
            st.sampled_from(["", "0", "1", "-1", "true", "codex|gemini", "{{ repo }}", "x"]),
        ),
    ),
)


@given(st.lists(config_lines).map("\n".join), st.dictionaries(st.text(), st.text(), max_size=3))
def test_loading_arbitrary_text_raises_only_config_error(
    text: str, overrides: dict[str, str]
) -> None:
    try:
        loaded = resolve([parse_config_text(text, "fuzz"), layer_from_mapping(overrides)])
    except ConfigError:
        return
    assert isinstance(loaded.config, Config)
    assert loaded.explicit_keys <= set(KEYS)
