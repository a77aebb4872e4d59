"""CLI commands grouped by concern: each module has its own Typer app(s), which cli.py adds to
the root app; shared options, the global state and open_library are in common.py."""
