"""The FastAPI application: configuration, control, sessions, health, auth."""

from api.auth import ensure_admin
from api.main import create_app, run
from api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app", "ensure_admin", "run"]
