import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import free_port

from store_sales.wb import login
from store_sales.wb.login import WandbLoginError

SENTINEL = "0123456789abcdef0123456789abcdef01234567"


def test_kaggle_secret_comes_first(monkeypatch, fake_kaggle_secrets_module):
    fake_kaggle_secrets_module(SENTINEL)
    monkeypatch.setenv("WANDB_API_KEY", "from-env")
    assert login.load_api_key() == ("Kaggle Secrets", SENTINEL)
    # handed to W&B only when the run goes online
    assert login.os.environ["WANDB_API_KEY"] == "from-env"


def test_secret_reaches_wandb_only_online(monkeypatch, fake_kaggle_secrets_module):
    monkeypatch.delenv("WANDB_MODE")
    fake_kaggle_secrets_module(SENTINEL)
    monkeypatch.setattr(login, "api_problem", lambda url, key, timeout=0: "")
    assert login.resolve_mode("auto")[0] == "online"
    assert login.os.environ["WANDB_API_KEY"] == SENTINEL


def test_env_var_when_the_secret_is_missing(monkeypatch, fake_kaggle_secrets_module):
    fake_kaggle_secrets_module(SENTINEL, fail=True)
    monkeypatch.setenv("WANDB_API_KEY", "from-env")
    assert login.load_api_key() == ("WANDB_API_KEY", None)


def test_netrc_login_is_used_last(monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1:9\n  login user\n  password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert login.load_api_key() == ("netrc (wandb login)", None)


def test_no_credentials_means_offline(monkeypatch):
    monkeypatch.delenv("WANDB_MODE")
    mode, note = login.resolve_mode("auto")
    assert mode == "offline"
    assert "no W&B API key" in note


def test_unreachable_server_falls_back_to_offline_quickly(monkeypatch, fake_kaggle_secrets_module):
    monkeypatch.delenv("WANDB_MODE")
    fake_kaggle_secrets_module(SENTINEL)
    port = free_port()  # nothing listens: connection refused
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    t0 = time.perf_counter()
    mode, note = login.resolve_mode("auto")
    assert mode == "offline"
    assert "unreachable" in note
    assert SENTINEL not in note
    assert time.perf_counter() - t0 < 10


def test_online_without_a_key_is_an_error_with_the_fix(monkeypatch):
    monkeypatch.delenv("WANDB_MODE")
    with pytest.raises(WandbLoginError, match="wandb_mode='auto'") as err:
        login.resolve_mode("online")
    assert err.value.problem.startswith("wandb_mode='online' but no W&B API key")


def test_require_online_says_why_in_a_typed_error(monkeypatch):
    """Callers (sweeps) read `problem`, never the message text."""
    with pytest.raises(WandbLoginError) as err:
        login.require_online()
    assert err.value.problem.startswith("no W&B API key")
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    monkeypatch.setattr(login, "api_problem", lambda url, key, timeout=0: f"{url} unreachable")
    with pytest.raises(WandbLoginError, match="unreachable"):
        login.require_online()


@pytest.mark.parametrize("mode", ["offline", "disabled"])
def test_explicit_modes_never_look_for_a_key(monkeypatch, mode, fake_kaggle_secrets_module):
    fake_kaggle_secrets_module(SENTINEL)
    assert login.resolve_mode(mode)[0] == mode
    assert "WANDB_API_KEY" not in login.os.environ


@pytest.fixture
def silent_server():
    """A W&B host that accepts TCP connections and never answers (a proxy, a captive portal)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)  # the kernel completes the handshakes; nobody ever reads or writes
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def answering_server():
    """A W&B API that answers the viewer query: 200, or 401 for the key "bad"."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            bad = self.headers.get("Authorization", "").endswith("YXBpOmJhZA==")  # api:bad
            self.send_response(401 if bad else 200)
            self.end_headers()
            self.wfile.write(b'{"data": {"viewer": {"id": "x"}}}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_auto_goes_offline_when_the_server_accepts_but_never_answers(monkeypatch, silent_server):
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", SENTINEL)
    monkeypatch.setenv("WANDB_BASE_URL", silent_server)
    monkeypatch.setattr(login, "API_TIMEOUT", 1.0)
    t0 = time.perf_counter()
    mode, note = login.resolve_mode("auto")
    assert time.perf_counter() - t0 < 3
    assert mode == "offline"
    assert note == f"W&B offline: W&B server {silent_server} did not answer within 1 s"
    with pytest.raises(WandbLoginError, match=r"^wandb_mode='online' but .* did not answer"):
        login.resolve_mode("online")


def test_auto_goes_online_when_the_api_answers(monkeypatch, answering_server):
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", SENTINEL)
    monkeypatch.setenv("WANDB_BASE_URL", answering_server)
    assert login.resolve_mode("auto") == ("online", "W&B online (key from WANDB_API_KEY)")
    monkeypatch.setenv("WANDB_API_KEY", "bad")
    mode, note = login.resolve_mode("auto")
    assert (mode, note) == (
        "offline",
        f"W&B offline: W&B server {answering_server} rejected the API key (HTTP 401)",
    )
