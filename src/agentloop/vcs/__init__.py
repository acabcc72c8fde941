"""vcs package."""
