"""The FastAPI application: configuration, control, sessions, health, auth."""
