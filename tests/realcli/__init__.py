"""The real agent CLIs (installed from npm by scripts/install-agent-clis.sh) driven by a real
loopd against mock model servers on loopback ports: no network, no credentials."""
