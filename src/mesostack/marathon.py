"""Marathon's REST API: the one home of mesostack's Marathon calls."""

from __future__ import annotations

import requests

TIMEOUT = (1.0, 5.0)


def app_count(endpoint: str, *, session: requests.Session | None = None) -> int | None:
    """How many apps Marathon on `endpoint` knows; None when it does not answer."""
    http = session or requests.Session()
    try:
        answer = http.get(f"http://{endpoint}/v2/apps", timeout=TIMEOUT)
        apps = answer.json().get("apps") if answer.status_code == 200 else None
    except (requests.RequestException, ValueError, AttributeError):
        return None
    return len(apps) if isinstance(apps, list) else None
