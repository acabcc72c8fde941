#!/usr/bin/env bash
# Installs the pinned agent CLIs of tests/realcli/agent-clis.txt from npm into
# .cache/agent-clis (binaries in .cache/agent-clis/node_modules/.bin). Skips the work when
# the installed set matches the list. Installs Node.js from Debian when npm is missing.
# Exit status non-zero when anything cannot be installed: under CI=true the caller fails.
set -euo pipefail
cd "$(dirname "$0")/.."
list=tests/realcli/agent-clis.txt
dest=.cache/agent-clis
stamp="$dest/.installed"
mapfile -t specs < <(grep -v '^\s*#' "$list" | grep -v '^\s*$')
if [ -f "$stamp" ] && cmp -s "$list" "$stamp"; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q nodejs npm
fi
mkdir -p "$dest"
[ -f "$dest/package.json" ] || echo '{"name": "agentloop-agent-clis", "private": true}' > "$dest/package.json"
echo "installing agent CLIs into $dest: ${specs[*]}"
npm install --prefix "$dest" --no-audit --no-fund --save-exact --loglevel=error "${specs[@]}"
for bin in claude codex gemini opencode; do
    "$dest/node_modules/.bin/$bin" --version >/dev/null
done
cp "$list" "$stamp"
