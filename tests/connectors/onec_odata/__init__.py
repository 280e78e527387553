"""Tests of the 1C OData client, its dialect helpers and its sandbox."""
