"""canaria's own control API (used by the CLI and the dashboard), bearer-token protected."""
