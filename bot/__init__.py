"""Answers from the index: retrieve → compose → cite; channels: cli, web (FastAPI), slack (bolt)."""
