"""Bundled example configuration (data only): ``hub.yaml``."""
