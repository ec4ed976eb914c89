"""The reviewer's web pages, reached through private assignment links."""

from web.app import create_app

__all__ = ["create_app"]
