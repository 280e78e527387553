"""Connectors: one package per external system, each with its protocol client, its
:class:`hub.connector.Connector` plug-in and its sandbox. hub finds them through
the ``hub.connectors`` entry-point group, never by import."""
