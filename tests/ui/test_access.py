"""Access in the web app (no broker: the index is filled directly): login, offices, CSRF, escaping, expiry."""

from __future__ import annotations

import json
import re
from base64 import b64encode

import itsdangerous
import pytest
from starlette.testclient import TestClient

from tests.ui.factories import PASSWORDS, decision, declaration, users_file
from zeikan.ui.app import create_app
from zeikan.ui.settings import UiSettings
from zeikan.ui.users import Users

SECRET = "test-secret-0123456789"
RULES = "rules:\n  - id: old-rule\n    when: ['origin_country = CN']\n    action: SCAN\n"


@pytest.fixture
def app(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    settings = UiSettings(users_file=str(users_file(tmp_path / "users.yaml")), secret=SECRET, data_dir=str(tmp_path / "ui"),
                          rules_path=str(rules), image_store=str(tmp_path / "images"), session_max_age_s=600)
    app = create_app(settings, Users.load(tmp_path / "users.yaml"), follow=False)
    index = app.state.ui.index
    index.apply("declarations", declaration("DEC-YOK-1", "JPYOK", description="<script>alert('x')</script> chairs"))
    index.apply("decisions", decision("DEC-YOK-1", "JPYOK", risk=0.91))
    index.apply("declarations", declaration("DEC-TYO-1", "JPTYO"))
    index.apply("decisions", decision("DEC-TYO-1", "JPTYO", risk=0.95))
    return app


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def logged_in(app, user: str = "tanaka") -> tuple[TestClient, str]:
    client = TestClient(app)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "user": user, "password": PASSWORDS[user]}, follow_redirects=False)
    assert response.status_code == 303
    return client, csrf_of(client.get("/worklist").text)


def test_pages_need_a_login_and_a_wrong_password_is_refused_and_audited(app):
    client = TestClient(app)
    assert client.get("/worklist", follow_redirects=False).headers["location"] == "/login?next=/worklist"
    token = csrf_of(client.get("/login").text)
    bad = client.post("/login", data={"csrf": token, "user": "tanaka", "password": "wrong"}, follow_redirects=False)
    assert bad.status_code == 401 and "wrong user name or password" in bad.text
    unknown = client.post("/login", data={"csrf": token, "user": "nobody", "password": "x"}, follow_redirects=False)
    assert unknown.status_code == 401
    assert [e["action"] for e in app.state.ui.audit.entries()] == ["login-failed", "login-failed"]


def test_an_officer_sees_only_their_offices(app):
    client, _ = logged_in(app, "tanaka")
    page = client.get("/worklist").text
    assert "DEC-YOK-1" in page and "DEC-TYO-1" not in page
    own = client.get("/declarations/DEC-YOK-1")
    assert own.status_code == 200 and "DEC-TYO-1" not in own.text, "the importer's history at another office stays hidden"
    other = client.get("/declarations/DEC-TYO-1")
    assert other.status_code == 404 and "DEC-TYO-1" not in other.text.replace("/declarations/DEC-TYO-1", "")
    assert client.get("/worklist?office=JPTYO").status_code == 404
    sato, _ = logged_in(app, "sato")
    assert sato.get("/declarations/DEC-TYO-1").status_code == 200
    assert sato.get("/declarations/DEC-YOK-1").status_code == 404


def test_writes_without_login_or_without_the_csrf_token_are_refused(app, tmp_path):
    anonymous = TestClient(app)
    form = {"inspection_type": "DOCUMENT", "outcome": "NO_FINDING", "inspection_id": "INS-UI-" + "0" * 32}
    assert anonymous.post("/declarations/DEC-YOK-1/outcome", data=form).status_code == 403
    assert anonymous.post("/rules", data={"text": RULES.replace("old-rule", "evil")}).status_code == 403
    client, token = logged_in(app)
    assert client.post("/declarations/DEC-YOK-1/outcome", data=form).status_code == 403
    assert client.post("/declarations/DEC-YOK-1/outcome", data={**form, "csrf": "forged"}).status_code == 403
    assert client.post("/rules", data={"text": RULES.replace("old-rule", "evil")}).status_code == 403
    assert client.post("/annotate", data={"sha256": "0" * 64, "verdict": "white"}).status_code == 403
    assert (tmp_path / "rules.yaml").read_text() == RULES
    assert not app.state.ui.published


def test_a_script_tag_in_a_description_is_shown_escaped(app):
    client, _ = logged_in(app)
    for path in ("/declarations/DEC-YOK-1", "/worklist/rows"):
        html = client.get(path).text
        assert "<script>alert" not in html
    html = client.get("/declarations/DEC-YOK-1").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; chairs" in html
    assert "script-src 'self'" in client.get("/worklist").headers["content-security-policy"]


def test_an_expired_session_is_refused(app):
    class Past(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - 3600  # signed an hour ago; the session lasts 600 s

    client, _ = logged_in(app)
    session = b64encode(json.dumps({"user": "tanaka", "csrf": "t"}).encode())
    fresh = itsdangerous.TimestampSigner(SECRET).sign(session).decode()
    old = Past(SECRET).sign(session).decode()
    client.cookies.clear()
    client.cookies.set("zeikan_session", fresh)
    assert client.get("/worklist", follow_redirects=False).status_code == 200
    client.cookies.clear()
    client.cookies.set("zeikan_session", old)
    assert client.get("/worklist", follow_redirects=False).headers["location"].startswith("/login")


def test_a_bad_rule_is_refused_and_a_good_one_is_versioned_with_the_officer(app, tmp_path):
    client, token = logged_in(app)
    bad = client.post("/rules", data={"csrf": token, "text": "rules:\n  - id: broken\n    when: ['unit_value < cheap']\n"})
    assert bad.status_code == 400 and "needs a number" in bad.text
    assert (tmp_path / "rules.yaml").read_text() == RULES
    good = RULES.replace("origin_country = CN", "origin_country in [CN, VN]")
    assert client.post("/rules", data={"csrf": token, "text": good}, follow_redirects=False).status_code == 303
    assert (tmp_path / "rules.yaml").read_text() == good
    [version] = app.state.ui.rules.versions()
    assert (version.number, version.officer) == (1, "tanaka")
    assert app.state.ui.rules.version_text(1) == good
    actions = [e["action"] for e in app.state.ui.audit.entries()]
    assert actions == ["login", "rules-refused", "rules"]


def test_header_mode_trusts_the_proxy_user_and_still_needs_the_csrf_token(tmp_path):
    settings = UiSettings(auth_mode="header", users_file=str(users_file(tmp_path / "users.yaml")), data_dir=str(tmp_path / "ui"),
                          image_store=str(tmp_path / "images"))
    app = create_app(settings, Users.load(tmp_path / "users.yaml", need_passwords=False), follow=False)
    app.state.ui.index.apply("decisions", decision("DEC-TYO-2", "JPTYO"))
    assert TestClient(app).get("/worklist", follow_redirects=False).status_code == 303
    stranger = TestClient(app, headers={"X-Remote-User": "mallory"})
    assert stranger.get("/worklist", follow_redirects=False).status_code == 303
    sato = TestClient(app, headers={"X-Remote-User": "sato"})
    page = sato.get("/worklist")
    assert page.status_code == 200 and "DEC-TYO-2" in page.text and "Log out" not in page.text
    assert sato.post("/rules", data={"text": RULES}).status_code == 403
