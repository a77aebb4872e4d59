"""CLI commands grouped by concern; each module registers its commands on cli.app."""
