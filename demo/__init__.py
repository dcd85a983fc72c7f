"""Demo models for the README's first command."""
