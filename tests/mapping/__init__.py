"""Tests of the mapping language (a package so tests can share the typed helpers in conftest)."""
