"""loopd: the daemon. Resolves settings, opens the store, launches the engine and serves the
HTTP API until SIGTERM, then drains: agents are stopped and runs stay resumable."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from typing import IO, Any

import click

from agentloop.core.errors import AgentloopError
from agentloop.engine.settings import DaemonSettings, resolve_settings

_log = logging.getLogger("agentloop.daemon")


@dataclass
class _Held:
    lock_file: IO[str] | None
    sock: socket.socket


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--addr", help="Listen address, e.g. http://127.0.0.1:7700 (env LOOPD_ADDR).")
@click.option("-p", "--port", type=click.IntRange(1, 65535), help="Same as --addr 127.0.0.1:PORT.")
@click.option("--data-dir", help="Data directory (env LOOPD_DATA_DIR).")
@click.option("--database-url", help="postgresql://... to share runs between hosts.")
@click.option("--worker-concurrency", type=click.IntRange(min=1), help="Runs on this host.")
@click.option("--max-concurrency", type=click.IntRange(min=1), help="Runs at once, all hosts.")
@click.option("--max-runs-per-workspace", type=click.IntRange(min=1), help="Runs per workspace.")
@click.option("--queue-policy", type=click.Choice(["fifo", "newest_first"]))
@click.option("--log-format", type=click.Choice(["text", "json"]))
@click.version_option(package_name="agentloop", prog_name="loopd")
def main(**options: Any) -> None:
    """Run the agentloop daemon."""
    port = options.pop("port")
    if port is not None:  # the reference loopd's way to say where to listen
        if options["addr"]:
            raise click.UsageError("give --addr or --port, not both")
        options["addr"] = f"127.0.0.1:{port}"
    try:
        settings = resolve_settings(**options)
    except AgentloopError as exc:
        raise click.UsageError(str(exc)) from exc
    from agentloop.logs import configure_logging

    configure_logging(settings.log_format)
    try:
        held = _claim(settings)
    except AgentloopError as exc:
        _log.error("loopd: %s", exc)
        sys.exit(1)
    if not settings.is_loopback and not settings.auth_token:
        _log.warning(
            "listening on a non-loopback address without LOOPD_AUTH_TOKEN: anyone who can "
            "reach %s can start agents on this machine",
            settings.base_url,
        )
    serve(settings, held)


def _claim(settings: DaemonSettings) -> _Held:
    """Take the data dir lock (one loopd per SQLite file) and bind the port, or say why not."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock_file = None
    if not settings.is_postgres:
        lock_path = settings.data_dir / "loopd.lock"
        lock_file = open(lock_path, "a+")  # noqa: SIM115  (held for the process lifetime)
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise AgentloopError(
                f"another loopd already uses {settings.data_dir} (lock {lock_path} is held); "
                "stop it or pass --data-dir"
            ) from exc
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
    return _Held(lock_file, _bind(settings))


def _bind(settings: DaemonSettings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AgentloopError(
                f"{settings.base_url} is already in use (another loopd?); "
                "stop it or pass --addr with a free port"
            ) from exc
        raise AgentloopError(f"cannot listen on {settings.base_url}: {exc.strerror}") from exc
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def serve(settings: DaemonSettings, held: _Held) -> None:
    import uvicorn

    from agentloop.agents.process import become_subreaper, wait_stopped
    from agentloop.api.app import create_app
    from agentloop.engine.boot import start_engine

    # Before any agent starts: what its tools leave behind re-parents to us, not to init.
    if not become_subreaper():
        _log.warning("loopd: cannot become a child subreaper; orphaned agent tools go to init")
    try:
        runtime = start_engine(settings)
    except AgentloopError as exc:
        _log.error("loopd: %s", exc)
        logging.shutdown()
        os._exit(1)
    app = create_app(runtime)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        lifespan="on",  # the MCP session manager runs in the app's lifespan
        log_config=None,  # uvicorn's lines go through our handler (agentloop.logs), not its own
    )
    server = uvicorn.Server(config)
    stopping = threading.Event()

    def drain(signum: int, _frame: Any) -> None:
        if stopping.is_set():
            return
        stopping.set()
        _log.info("loopd: draining on signal %s", signal.Signals(signum).name)
        runtime.begin_shutdown()
        # Through uvicorn's own handler, so sse-starlette learns of it and lets every open
        # stream end cleanly instead of cutting it.
        server.handle_exit(signum, _frame)

    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    _log.info("loopd listening on %s (data dir %s)", settings.base_url, settings.data_dir)
    try:
        server.run(sockets=[held.sock])
    finally:
        if not stopping.is_set():
            runtime.begin_shutdown()
        # What ignored SIGTERM is SIGKILLed by the stops' own threads: wait for them, or
        # it would outlive us (SPEC 4).
        wait_stopped()
        runtime.finish_shutdown()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        # DBOS's worker threads would hold a plain exit for the length of a step (ENGINE-NOTES).
        os._exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
