"""Bundled YAML mappings (data only): one folder per system, copied and edited by integrators."""
