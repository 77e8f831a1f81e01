"""nudge-build: per-client mobile build configuration from nudge organization settings."""

__version__ = "0.1.0"
