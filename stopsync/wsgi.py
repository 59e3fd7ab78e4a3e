"""WSGI entry point for gunicorn: ``gunicorn stopsync.wsgi:app``.

With ``ROLE=all`` (embedded mode) this also starts the in-process scheduler; gunicorn preloads
the app, so it runs once in the master process.
"""

from . import create_app
from .app import start_role

app = create_app()
start_role(app)
