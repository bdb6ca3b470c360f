"""The Django admin in real Chromium under the site's Content-Security-Policy: it has no
inline script or style in the pages we use, so the strict policy (no 'unsafe-inline')
holds there too; its stylesheets load and its scripts run."""

from __future__ import annotations

import subprocess

import pytest

from tests.browser.test_client import browser, policy_violations  # noqa: F401  (fixture)
from tests.support import PYTHON, ROOT, Api

pytestmark = pytest.mark.timeout(120)

PASSWORD = "correct-horse-battery-staple"


def test_the_admin_works_under_the_policy(stack_factory, browser):  # noqa: F811
    stack = stack_factory()
    make_staff = (
        "from django.contrib.auth import get_user_model as m\n"
        f"m().objects.create_superuser('ops', None, {PASSWORD!r})"
    )
    subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", make_staff], env=stack.env, cwd=ROOT, check=True
    )
    base = stack.web(server="uvicorn")
    alice = Api(base)
    alice.post("/api/guest", {"name": "alice"})
    alice.post("/api/matches", {"game": "lightcycles", "private": True})

    page = browser.new_page()
    violations = policy_violations(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base + "/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(base + "/admin/")
    # Styled: the header's colour comes from the admin's stylesheet.
    header = "getComputedStyle(document.querySelector('#header')).backgroundColor"
    assert page.evaluate(header) not in ("", "rgba(0, 0, 0, 0)")

    page.goto(base + "/admin/games/match/")
    # Scripted: actions.js ticks every row when the header box is ticked.
    page.check("#action-toggle")
    assert page.is_checked("table#result_list tbody input.action-select")
    page.click("table#result_list tbody tr a")
    page.wait_for_selector("text=alice")
    for path in ("/admin/auth/user/", "/admin/auth/user/add/", "/admin/axes/accessattempt/"):
        page.goto(base + path)
    assert errors == []
    assert violations == []
