"""credflow's web layer: the pages by audience, the HTTP intake at /api, assembled by web.app."""

from web.app import create_app

__all__ = ["create_app"]
