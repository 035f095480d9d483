"""Keys, limits and CORS, checked in-process: nothing here opens a socket."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bimo.errors import BimoError
from bimo.serve.app import create_app
from bimo.serve.config import ServeConfig, is_loopback
from fakes import ScriptedBackend

KEY = "s3cret-key"


def make(tmp_path, **kw) -> TestClient:
    cfg = ServeConfig(data_dir=tmp_path, **kw)
    # base_url only names the Host header; TestClient never touches the network.
    return TestClient(create_app(cfg, backend=ScriptedBackend(), resume_jobs=False), base_url="http://testserver")


def test_public_bind_needs_a_key(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("BIMO_API_KEY", raising=False)
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.org"):
        with pytest.raises(BimoError, match="API key"):
            ServeConfig(host=host, data_dir=tmp_path)
    assert ServeConfig(host="127.0.0.1", data_dir=tmp_path).api_key is None
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def test_env_key_is_used(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BIMO_API_KEY", KEY)
    assert ServeConfig(host="0.0.0.0", data_dir=tmp_path).api_key == KEY


@pytest.mark.parametrize("path", ["/v1/models", "/api/tasks", "/", "/arena", "/static/common.js", "/healthz"])
def test_off_loopback_every_request_needs_the_key(tmp_path, path: str) -> None:
    c = make(tmp_path, host="0.0.0.0", api_key=KEY)
    assert c.get(path).status_code == 401
    assert c.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get(path, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_api_post_needs_the_key(tmp_path) -> None:
    c = make(tmp_path, host="0.0.0.0", api_key=KEY)
    body = {"messages": [{"role": "user", "content": "hi"}]}
    r = c.post("/v1/chat/completions", json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = c.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"].startswith("word0")


def test_page_key_sets_cookie_and_drops_key_from_url(tmp_path) -> None:
    c = make(tmp_path, host="0.0.0.0", api_key=KEY)
    r = c.get(f"/arena?key={KEY}&x=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/arena?x=1"
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
    assert c.get("/arena").status_code == 200  # the cookie now rides along
    assert c.get("/api/tasks").status_code == 200
    assert make(tmp_path, host="0.0.0.0", api_key=KEY).get("/?key=nope", follow_redirects=False).status_code == 401


def test_loopback_without_key_is_open(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("BIMO_API_KEY", raising=False)
    assert make(tmp_path).get("/v1/models").status_code == 200


def test_oversized_body_is_413(tmp_path) -> None:
    c = make(tmp_path, max_body_bytes=2000)
    big = {"messages": [{"role": "user", "content": "x" * 5000}]}
    r = c.post("/v1/chat/completions", json=big)
    assert r.status_code == 413 and "too large" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: counted while reading
        for _ in range(10):
            yield b"x" * 500

    r = c.post("/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_long_prompt_is_400(tmp_path) -> None:
    c = make(tmp_path, max_prompt_chars=100)
    r = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "y" * 101}]})
    assert r.status_code == 400 and "prompt too long" in r.json()["error"]["message"]
    r = c.post("/api/write", json={"task": "polish", "text": "y" * 101})
    assert r.status_code == 400
    r = c.post("/api/jobs", json={"prompt": "y" * 101})
    assert r.status_code == 400


def test_bad_requests_are_400_not_500(tmp_path) -> None:
    c = make(tmp_path)
    assert c.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
                  ).status_code == 400
    assert c.post("/v1/chat/completions", json={"messages": []}).status_code == 400
    assert c.post("/api/write", json={"task": "../../etc/passwd", "text": "hi"}).status_code == 400
    assert c.get("/api/jobs/..%2F..%2Fetc").status_code == 404
    assert c.post("/api/arena/vote", json={"id": "nope", "verdict": "a"}).status_code == 400


def test_no_client_file_paths(tmp_path) -> None:
    """Writing takes text only; a 'sample' that looks like a path is just text."""
    c = make(tmp_path)
    r = c.post("/api/write", json={"task": "style", "text": "hello there", "sample": "/etc/passwd"})
    assert r.status_code == 200
    backend = c.app.state.bimo.backend
    assert "root:" not in str(backend.requests[-1]["messages"])


def test_cors_off_by_default(tmp_path) -> None:
    c = make(tmp_path)
    r = c.get("/v1/models", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = c.options("/v1/chat/completions", headers={"Origin": "https://evil.example",
                                                   "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    c2 = make(tmp_path, cors_origins=["https://app.example"])
    r = c2.get("/v1/models", headers={"Origin": "https://app.example"})
    assert r.headers["access-control-allow-origin"] == "https://app.example"
