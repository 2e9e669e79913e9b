import time

import pytest
from conftest import free_port

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
    monkeypatch.setattr(login, "reachable", lambda url, timeout=0: True)
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
    monkeypatch.setattr(login, "reachable", lambda url, timeout=0: False)
    with pytest.raises(WandbLoginError, match="unreachable"):
        login.require_online()


@pytest.mark.parametrize("mode", ["offline", "disabled"])
def test_explicit_modes_never_look_for_a_key(monkeypatch, mode, fake_kaggle_secrets_module):
    fake_kaggle_secrets_module(SENTINEL)
    assert login.resolve_mode(mode)[0] == mode
    assert "WANDB_API_KEY" not in login.os.environ
