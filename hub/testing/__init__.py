"""Test helpers shipped with hub: the connector acceptance suite and a real PostgreSQL server for tests."""
