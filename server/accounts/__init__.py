"""Dashboard accounts: users, sessions, login throttling, API keys, recharges and the user's
own statistics. Services here import nothing from Tornado and raise ``server.errors``."""
