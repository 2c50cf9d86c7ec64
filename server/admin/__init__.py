"""Operator services behind ``/api/admin``: no Tornado imports; they raise ``server.errors``."""
