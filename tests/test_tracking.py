import socket
import sys
import time
import types

import pytest

from store_sales import tracking

SENTINEL = "0123456789abcdef0123456789abcdef01234567"


def _fake_kaggle_secrets(monkeypatch, value=SENTINEL, fail=False):
    module = types.ModuleType("kaggle_secrets")

    class UserSecretsClient:
        def get_secret(self, label):
            if fail or label != tracking.SECRET_LABEL:
                raise ConnectionError("secret not attached")
            return value

    module.UserSecretsClient = UserSecretsClient
    monkeypatch.setitem(sys.modules, "kaggle_secrets", module)


def test_kaggle_secret_comes_first(monkeypatch):
    _fake_kaggle_secrets(monkeypatch)
    monkeypatch.setenv("WANDB_API_KEY", "from-env")
    assert tracking.load_api_key() == ("Kaggle Secrets", SENTINEL)
    # handed to W&B only when the run goes online
    assert tracking.os.environ["WANDB_API_KEY"] == "from-env"


def test_secret_reaches_wandb_only_online(monkeypatch):
    monkeypatch.delenv("WANDB_MODE")
    _fake_kaggle_secrets(monkeypatch)
    monkeypatch.setattr(tracking, "reachable", lambda url, timeout=0: True)
    assert tracking.resolve_mode("auto")[0] == "online"
    assert tracking.os.environ["WANDB_API_KEY"] == SENTINEL


def test_env_var_when_the_secret_is_missing(monkeypatch):
    _fake_kaggle_secrets(monkeypatch, fail=True)
    monkeypatch.setenv("WANDB_API_KEY", "from-env")
    assert tracking.load_api_key() == ("WANDB_API_KEY", None)


def test_netrc_login_is_used_last(monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1:9\n  login user\n  password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert tracking.load_api_key() == ("netrc (wandb login)", None)


def test_no_credentials_means_offline(monkeypatch):
    monkeypatch.delenv("WANDB_MODE")
    mode, note = tracking.resolve_mode("auto")
    assert mode == "offline"
    assert "no W&B API key" in note


def test_unreachable_server_falls_back_to_offline_quickly(monkeypatch):
    monkeypatch.delenv("WANDB_MODE")
    _fake_kaggle_secrets(monkeypatch)
    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    t0 = time.perf_counter()
    mode, note = tracking.resolve_mode("auto")
    assert mode == "offline"
    assert "unreachable" in note
    assert SENTINEL not in note
    assert time.perf_counter() - t0 < 10


def test_online_without_a_key_is_an_error_with_the_fix(monkeypatch):
    monkeypatch.delenv("WANDB_MODE")
    with pytest.raises(RuntimeError, match="wandb_mode='auto'"):
        tracking.resolve_mode("online")


@pytest.mark.parametrize("mode", ["offline", "disabled"])
def test_explicit_modes_never_look_for_a_key(monkeypatch, mode):
    _fake_kaggle_secrets(monkeypatch)
    assert tracking.resolve_mode(mode)[0] == mode
    assert "WANDB_API_KEY" not in tracking.os.environ
