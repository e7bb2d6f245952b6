"""The dashboard's people and roles in a real browser: login, lockout, CSRF refusal, role limits, and a viewer who
sees no NHS number anywhere (pages and JSON)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import requests
from dashboard.dash_support import PASSWORDS, check_accessible, holds_nhs_number, login, shoot, submit

from hub.testing.messages import discharge_notice, housing_request
from hub.testing.running_hub import wait_until


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def signed_in_session(base: str, name: str) -> requests.Session:
    """A requests session logged in as ``name`` through the login form."""
    s = requests.Session()
    token = csrf_of(s.get(f"{base}/ui/login", timeout=10).text)
    r = s.post(f"{base}/ui/login", data={"csrf_token": token, "name": name, "password": PASSWORDS[name]},
               allow_redirects=False, timeout=30)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/ui/", r.text
    return s


def users(world: Any) -> dict[str, dict[str, Any]]:
    listed = subprocess.run([sys.executable, "-m", "hub", "users", "list", "--json", "--config", str(world.config_dir)],
                            capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return {u["name"]: u for u in json.loads(listed.stdout)}


def test_login_page_is_accessible_and_a_login_lands_on_the_overview(browser, dash_world) -> None:
    page = browser.new_page()
    page.goto(f"{dash_world.url}/ui/")  # not logged in: sent to the login page
    assert page.url.endswith("/ui/login")
    check_accessible(page)
    shoot(page, "login")
    login(page, dash_world.url, "alice", PASSWORDS["alice"])
    assert page.inner_text("[data-testid=who]") == "alice (operator)"
    cookie = next(c for c in page.context.cookies() if c["name"] == "hub_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert not cookie["secure"]  # plain HTTP here; under TLS the cookie is Secure (hub.ui.web)
    page.click("text=Log out")
    page.wait_for_url(f"{dash_world.url}/ui/login")
    page.goto(f"{dash_world.url}/ui/")
    assert page.url.endswith("/ui/login")
    page.close()


def test_a_wrong_password_is_refused_and_five_in_a_row_lock_the_user_out(browser, dash_world) -> None:
    page = browser.new_page()
    for _ in range(5):
        page.goto(f"{dash_world.url}/ui/login")
        page.fill("#name", "lock")
        page.fill("#password", "not the password")
        with page.expect_response(f"{dash_world.url}/ui/login") as answered:
            page.press("#password", "Enter")
        assert answered.value.status == 401
        assert "There is a problem" in page.inner_text("main")
    row = users(dash_world)["lock"]
    assert row["failed_logins"] == 5 and row["locked_until"] is not None
    page.goto(f"{dash_world.url}/ui/login")
    page.fill("#name", "lock")
    page.fill("#password", PASSWORDS["lock"])
    with page.expect_response(f"{dash_world.url}/ui/login") as answered:
        page.press("#password", "Enter")
    assert answered.value.status == 401, "a locked user logged in with the right password"
    assert users(dash_world)["lock"]["failed_logins"] == 6  # the lock grew: back-off
    page.close()


def test_a_form_without_the_session_s_csrf_token_is_refused_and_changes_nothing(dash_world) -> None:
    base = dash_world.url
    anonymous = requests.Session()
    anonymous.get(f"{base}/ui/login", timeout=10)
    refused = anonymous.post(f"{base}/ui/login", data={"name": "alice", "password": PASSWORDS["alice"]}, timeout=10)
    assert refused.status_code == 403
    assert anonymous.get(f"{base}/ui/", allow_redirects=False, timeout=10).headers["location"] == "/ui/login"
    s = signed_in_session(base, "alice")
    for token in ("", "forged-token"):
        r = s.post(f"{base}/ui/dead-letters/bulk/confirm", data={"csrf_token": token, "delivery_id": "x"},
                   allow_redirects=False, timeout=10)  # fmt: skip
        assert r.status_code == 403 and "did not come from this dashboard" in r.text
    other = signed_in_session(base, "nora")  # another session's token is no good either
    token = csrf_of(other.get(f"{base}/ui/", timeout=10).text)
    r = s.post(f"{base}/ui/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    assert r.status_code == 403
    assert s.get(f"{base}/ui/", allow_redirects=False, timeout=10).status_code == 200  # still logged in


def test_a_viewer_sees_no_nhs_number_anywhere_and_may_not_read_bodies(browser, dash_world) -> None:
    base = dash_world.url
    records = [dash_world.send("trust-a", discharge_notice()).json()["id"],
               dash_world.send("trust-a", housing_request()).json()["id"]]  # fmt: skip
    assert wait_until(lambda: all(dash_world.view(r)["status"] != "in_progress" for r in records), timeout=60)
    operator = signed_in_session(base, "alice")
    shown = operator.post(
        f"{base}/ui/messages/{records[0]}/body",
        data={"csrf_token": csrf_of(operator.get(f"{base}/ui/", timeout=10).text)},
        timeout=30,
    )
    assert shown.status_code == 200 and holds_nhs_number(shown.text)  # the number is there to be hidden

    page = browser.new_page()
    login(page, base, "vera", PASSWORDS["vera"])
    seen: list[str] = []
    for path in ["/ui/", "/ui/messages?all=1", "/ui/dead-letters", *(f"/ui/messages/{r}" for r in records)]:
        page.goto(f"{base}{path}")
        seen.append(page.content())
    derived = [d["id"] for r in records for d in dash_world.view(r)["derived"]]
    for record in [*records, *derived]:
        page.goto(f"{base}/ui/messages/{record}")
        seen.append(page.content())
        seen.append(page.request.get(f"{base}/ui/messages/{record}.json").text())
    seen.append(page.request.get(f"{base}/ui/overview.json").text())
    assert "Show the body" not in "".join(seen) and "NHS number" not in seen[1]
    assert not [text[:200] for text in seen if holds_nhs_number(text)]
    viewer = signed_in_session(base, "vera")
    token = csrf_of(viewer.get(f"{base}/ui/", timeout=10).text)
    refused = viewer.post(f"{base}/ui/messages/{records[0]}/body", data={"csrf_token": token}, timeout=10)
    assert refused.status_code == 403 and not holds_nhs_number(refused.text)
    by_number = viewer.post(f"{base}/ui/messages", data={"csrf_token": token, "nhs_number": "9434765919"}, timeout=10)
    assert by_number.status_code == 403 and not holds_nhs_number(by_number.text)
    page.close()


def test_a_disabled_user_s_session_ends_and_it_cannot_log_in_again(dash_world) -> None:
    base = dash_world.url
    s = signed_in_session(base, "nora")
    assert s.get(f"{base}/ui/", allow_redirects=False, timeout=10).status_code == 200
    subprocess.run([sys.executable, "-m", "hub", "users", "disable", "nora", "--config", str(dash_world.config_dir)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    assert s.get(f"{base}/ui/", allow_redirects=False, timeout=10).headers["location"] == "/ui/login"
    token = csrf_of(s.get(f"{base}/ui/login", timeout=10).text)
    again = s.post(f"{base}/ui/login", data={"csrf_token": token, "name": "nora", "password": PASSWORDS["nora"]},
                   allow_redirects=False, timeout=30)  # fmt: skip
    assert again.status_code == 401


def _add_user(world: Any, name: str, role: str, password: str) -> None:
    done = subprocess.run([sys.executable, "-m", "hub", "users", "add", name, "--role", role, "--password-stdin",
                           "--operator", "test-admin", "--config", str(world.config_dir)],
                          input=f"{password}\n", capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr


def _set_password(page: Any, base: str, name: str, password: str) -> None:
    """In an admin's page: give ``name`` a new password with the users page's form."""
    page.goto(f"{base}/ui/users")
    page.locator(f"tr[data-user={name}] input[name=password]").fill(password)
    submit(page, f"tr[data-user={name}] button:has-text('Set')", "**/ui/users?done=*")
    assert f"{name} has a new password" in page.inner_text("[data-testid=done]")


def test_a_new_password_ends_the_user_s_other_sessions_but_an_admin_s_own_reset_keeps_its_session(
    browser, dash_world
) -> None:
    """A stolen or forgotten session cookie stops working once an admin gives its user a new password; the admin
    who gives themselves one stays signed in where they did it, and only there."""
    base = dash_world.url
    _add_user(dash_world, "rita", "navigator", "rita's first password")
    _add_user(dash_world, "adam", "admin", "adam's first password")
    contexts = [browser.new_context() for _ in range(3)]
    rita, adam, adam_elsewhere = (context.new_page() for context in contexts)
    try:
        login(rita, base, "rita", "rita's first password")
        login(adam, base, "adam", "adam's first password")
        login(adam_elsewhere, base, "adam", "adam's first password")
        rita.goto(f"{base}/ui/messages")
        assert rita.url == f"{base}/ui/messages"
        _set_password(adam, base, "rita", "rita's second password")
        rita.goto(f"{base}/ui/messages")
        assert rita.url == f"{base}/ui/login", "rita's old session outlived her new password"
        login(rita, base, "rita", "rita's second password")  # the new password works
        _set_password(adam, base, "adam", "adam's second password")
        adam.goto(f"{base}/ui/users")
        assert adam.url == f"{base}/ui/users", "the admin who set their own password lost the session doing it"
        _set_password(adam, base, "adam", "adam's third password")  # its form (CSRF token) still works
        adam_elsewhere.goto(f"{base}/ui/users")
        assert adam_elsewhere.url == f"{base}/ui/login", "the admin's other session outlived the new password"
        rita.goto(f"{base}/ui/messages")
        assert rita.url == f"{base}/ui/messages"  # another user's new password ends no one else's session
    finally:
        for context in contexts:
            context.close()
