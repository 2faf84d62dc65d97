"""Embedded SWR-compatible backend: Manage REST API, OCI registry and pipeline runner."""
