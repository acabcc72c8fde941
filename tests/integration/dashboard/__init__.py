"""What the dashboard's run page reads besides runs (SPEC 18): a workspace's specs for the
"New run" form, and a run's plan for its live task list."""
