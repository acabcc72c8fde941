"""The daemon's settings (engine.settings, SPEC 11 and 14): flags, then LOOPD_* variables,
then defaults; a bad value is refused with a message naming it; and the caps in force
(flags beat caps a run set earlier, which beat the defaults)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentloop.core.errors import InvalidInput
from agentloop.core.types import QueuePolicy
from agentloop.engine.run_queue import RunQueue, _partition_cap
from agentloop.engine.settings import (
    Caps,
    DaemonSettings,
    default_executor_id,
    parse_addr,
    resolve_settings,
)
from agentloop.store import Store


def test_defaults(tmp_path: Path) -> None:
    settings = resolve_settings(data_dir=str(tmp_path), environ={})

    assert (settings.host, settings.port) == ("127.0.0.1", 7700)
    assert settings.caps == Caps(3, None, QueuePolicy.FIFO)
    assert settings.caps_from_flags == frozenset()  # defaults do not count as chosen
    assert settings.worker_concurrency is None
    assert settings.log_format == "text"
    assert settings.auth_token is None
    assert settings.system_database_url == f"sqlite:///{tmp_path / 'loopd.db'}"
    assert not settings.is_postgres
    assert settings.global_log_dir == tmp_path / "logs"


def test_flags_beat_the_environment_which_beats_the_defaults(tmp_path: Path) -> None:
    environ = {
        "LOOPD_ADDR": "127.0.0.1:8800",
        "LOOPD_DATA_DIR": str(tmp_path / "env"),
        "LOOPD_MAX_CONCURRENCY": "5",
        "LOOPD_MAX_RUNS_PER_WORKSPACE": "2",
        "LOOPD_QUEUE_POLICY": "newest_first",
        "LOOPD_WORKER_CONCURRENCY": "4",
        "LOOPD_LOG_FORMAT": "json",
        "LOOPD_AUTH_TOKEN": "secret",
    }
    from_env = resolve_settings(environ=environ)
    assert from_env.port == 8800
    assert from_env.data_dir == tmp_path / "env"
    assert from_env.caps == Caps(5, 2, QueuePolicy.NEWEST_FIRST)
    assert from_env.caps_from_flags == {"max_concurrency", "max_runs_per_workspace", "queue_policy"}
    assert (from_env.worker_concurrency, from_env.log_format) == (4, "json")
    assert from_env.auth_token == "secret"

    flagged = resolve_settings(
        addr=":9900",
        data_dir=str(tmp_path / "flag"),
        max_concurrency=1,
        queue_policy="fifo",
        worker_concurrency=1,
        environ=environ,
    )
    assert flagged.port == 9900
    assert flagged.data_dir == tmp_path / "flag"
    assert flagged.caps == Caps(1, 2, QueuePolicy.FIFO)
    assert flagged.worker_concurrency == 1


def test_only_caps_given_explicitly_are_recorded_as_chosen(tmp_path: Path) -> None:
    settings = resolve_settings(data_dir=str(tmp_path), max_runs_per_workspace=1, environ={})
    assert settings.caps_from_flags == {"max_runs_per_workspace"}
    assert settings.caps.max_concurrency == 3


@pytest.mark.parametrize(
    ("kwargs", "environ", "message"),
    [
        ({}, {"LOOPD_MAX_CONCURRENCY": "many"}, "LOOPD_MAX_CONCURRENCY='many': expected a whole"),
        ({}, {"LOOPD_MAX_CONCURRENCY": "0"}, "LOOPD_MAX_CONCURRENCY='0': expected a number >= 1"),
        ({}, {"LOOPD_WORKER_CONCURRENCY": "-2"}, "LOOPD_WORKER_CONCURRENCY='-2'"),
        ({}, {"LOOPD_MAX_RUNS_PER_WORKSPACE": "1.5"}, "LOOPD_MAX_RUNS_PER_WORKSPACE='1.5'"),
        ({"max_concurrency": 0}, {}, "max_concurrency=0: expected a number >= 1"),
        ({"max_runs_per_workspace": -1}, {}, "max_runs_per_workspace=-1: expected a number >= 1"),
        ({"queue_policy": "lifo"}, {}, "queue policy 'lifo': expected fifo or newest_first"),
        ({}, {"LOOPD_QUEUE_POLICY": "random"}, "queue policy 'random'"),
        ({"log_format": "xml"}, {}, "--log-format 'xml': expected text or json"),
        ({"addr": "https://127.0.0.1:7700"}, {}, "only http:// addresses are served"),
        ({"addr": "127.0.0.1:http"}, {}, "invalid port"),
        ({}, {"LOOPD_ADDR": "localhost:99999"}, "invalid port"),
    ],
)
def test_a_bad_setting_is_refused_with_a_message_naming_it(
    kwargs: dict[str, object], environ: dict[str, str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput) as raised:
        resolve_settings(data_dir=str(tmp_path), environ=environ, **kwargs)  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_an_empty_variable_counts_as_unset(tmp_path: Path) -> None:
    environ = {"LOOPD_MAX_CONCURRENCY": "", "LOOPD_AUTH_TOKEN": "", "LOOPD_DATABASE_URL": ""}
    settings = resolve_settings(data_dir=str(tmp_path), environ=environ)
    assert settings.caps.max_concurrency == 3
    assert "max_concurrency" not in settings.caps_from_flags
    assert settings.auth_token is None
    assert settings.database_url is None


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("http://127.0.0.1:7700", ("127.0.0.1", 7700)),
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        (":8081", ("127.0.0.1", 8081)),
        ("[::1]:8082", ("::1", 8082)),
        ("http://0.0.0.0", ("0.0.0.0", 7700)),
        ("  localhost:7701 ", ("localhost", 7701)),
    ],
)
def test_addresses_parse_to_host_and_port(addr: str, expected: tuple[str, int]) -> None:
    assert parse_addr(addr) == expected


def test_address_helpers() -> None:
    v6 = DaemonSettings(host="::1", port=8000)
    assert v6.base_url == "http://[::1]:8000"
    assert v6.is_loopback
    assert DaemonSettings(host="127.0.0.2").is_loopback
    assert not DaemonSettings(host="0.0.0.0").is_loopback
    assert not DaemonSettings(host="192.168.1.5").is_loopback


@pytest.mark.parametrize(
    ("url", "postgres"),
    [
        ("postgresql://u@h/db", True),
        ("postgres://u@h/db", True),
        ("postgresql+psycopg://u@h/db", True),
        ("sqlite:////tmp/x.db", False),
        (None, False),
    ],
)
def test_the_database_url_decides_postgres(url: str | None, postgres: bool) -> None:
    settings = DaemonSettings(database_url=url, data_dir=Path("/data"))
    assert settings.is_postgres is postgres
    expected = url if url else "sqlite:////data/loopd.db"
    assert settings.system_database_url == expected


def test_the_executor_id_is_fixed_on_sqlite_per_host_and_port_on_postgres(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DBOS__VMID", raising=False)
    assert default_executor_id(None, 7700) == "local"
    assert default_executor_id("sqlite:///x.db", 7700) == "local"
    on_pg = default_executor_id("postgresql://h/db", 7701)
    assert on_pg.endswith(":7701") and on_pg != "local"
    monkeypatch.setenv("DBOS__VMID", "host-a")
    assert default_executor_id("postgresql://h/db", 7701) == "host-a"


def test_no_per_workspace_cap_is_the_global_cap_and_never_above_it() -> None:
    assert _partition_cap(Caps(3, None)) == 3
    assert _partition_cap(Caps(3, 1)) == 1
    assert _partition_cap(Caps(2, 5)) == 2  # DBOS wants partition <= global


def caps_at_start(store: Store, tmp_path: Path, **flags: object) -> Caps:
    """The caps a daemon starting with ``flags`` puts in force (and stores)."""
    settings = resolve_settings(data_dir=str(tmp_path), environ={}, **flags)  # type: ignore[arg-type]
    return RunQueue(settings, store)._initial_caps()


def test_caps_a_run_set_survive_a_restart_unless_a_flag_says_otherwise(
    store: Store, tmp_path: Path
) -> None:
    assert caps_at_start(store, tmp_path) == Caps()
    store.put_setting("caps", Caps(5, 2, QueuePolicy.NEWEST_FIRST).to_json())  # a run set them

    assert caps_at_start(store, tmp_path) == Caps(5, 2, QueuePolicy.NEWEST_FIRST)
    assert caps_at_start(store, tmp_path, max_concurrency=1) == Caps(1, 2, QueuePolicy.NEWEST_FIRST)
    assert store.get_setting("caps")["max_concurrency"] == 1  # the flag is now in force
