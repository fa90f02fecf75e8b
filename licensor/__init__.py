"""Licensor: a self-hostable license-key server."""

__version__ = "0.1.0"
