"""Where the captured client requests live: ``../shared/fixtures/clients`` beside the checkout
(the project's layout, and CI's), or ``JIULIU_CLIENT_FIXTURES``. Missing fixtures fail the suite
(``tests/test_client_fixtures.py``) instead of silently shrinking the replay tests."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("JIULIU_CLIENT_FIXTURES", ROOT.parent / "shared" / "fixtures" / "clients"))
CAPTURES = sorted(FIXTURES.glob("*.json"))
