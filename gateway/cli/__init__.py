"""The `modelport` command line (entry point `gateway.cli:main`)."""

from gateway.cli.commands import app, main

__all__ = ["app", "main"]
