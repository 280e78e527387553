"""The jobs hub runs, built from the engine's pipeline stages; registered under ``hub.jobs``."""
