"""Deterministic orchestration: the streamer workflow and the client helpers."""
