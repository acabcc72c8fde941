#!/usr/bin/env bash
# Creates .venv with agentloop and its dev tools. `setup.sh test` also installs what the
# whole test suite needs from Debian (chromium for the browser tests) and makes sure the
# local PostgreSQL server is up.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.agentloop-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
    .venv/bin/pip install -q --disable-pip-version-check -e ".[dev]"
    touch "$stamp"
fi
if [ "${1:-}" = "test" ]; then
    # The real agent CLIs (tests/realcli): under CI a failed install fails the run; on a
    # developer's machine the tests that need them say why they cannot run.
    if ! scripts/install-agent-clis.sh; then
        [ "${CI:-}" = "true" ] && { echo "cannot install the agent CLIs (CI=true)" >&2; exit 1; }
        echo "warning: agent CLIs not installed; tests/realcli will skip" >&2
    fi
    need_apt=()
    command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
    command -v git >/dev/null 2>&1 || need_apt+=(git)
    command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
    if [ ${#need_apt[@]} -gt 0 ]; then
        SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
        $SUDO apt-get update -q
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
        for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
    fi
fi
