"""Ingest: the HTTP front door for providers and municipalities (docs/ingest.md)."""
