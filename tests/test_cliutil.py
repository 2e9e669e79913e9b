"""What every `store-sales` subcommand shares: typed `-p` values, `-f` files, one-line errors."""

from __future__ import annotations

import argparse

import pytest

from store_sales.cliutil import one_line_errors, parameters_from_args, typed_value
from store_sales.errors import ConfigError, UserError

# ---- typed_value ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("fAlSe", False),
        ("None", None),
        ("null", None),
        ("NULL", None),
    ],
)
def test_booleans_in_any_case_and_none_as_papermill_and_yaml_spell_it(text, expected):
    assert typed_value(text) is expected


def test_lowercase_none_is_a_word():
    assert typed_value("none") == "none"  # `-p tracker none` is a choice, not a missing value


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("42", 42), ("-3", -3), ("007", 7)],  # "007" -> 7, as papermill's -p types it
)
def test_integers_are_ints(text, expected):
    value = typed_value(text)
    assert type(value) is int and value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.05", 0.05), ("-1.5", -1.5), ("1e-3", 0.001), ("2E3", 2000.0), (".5", 0.5)],
)
def test_floats_are_floats(text, expected):
    value = typed_value(text)
    assert type(value) is float and value == pytest.approx(expected)


@pytest.mark.parametrize("text", ["exp001", "", "yes", "1.2.3", "0x10", "a b", "/data/raw"])
def test_anything_else_stays_the_string(text):
    value = typed_value(text)
    assert type(value) is str and value == text


# ---- parameters_from_args ---------------------------------------------------------------------


def _args(files=(), params=()) -> argparse.Namespace:
    """What argparse gives for `-f FILE ...` and `-p NAME VALUE ...` (None when not given)."""
    return argparse.Namespace(
        parameters_file=[str(f) for f in files] or None,
        parameter=[list(p) for p in params] or None,
    )


def test_no_parameters_is_an_empty_dict():
    assert parameters_from_args(_args()) == {}
    assert parameters_from_args(argparse.Namespace()) == {}


def test_p_values_are_typed():
    args = _args(params=[("learning_rate", "0.1"), ("refit", "false"), ("exp_name", "x")])
    assert parameters_from_args(args) == {"learning_rate": 0.1, "refit": False, "exp_name": "x"}


def test_files_apply_in_order_and_p_wins(tmp_path):
    first = tmp_path / "first.yaml"
    first.write_text("learning_rate: 0.1\nnum_leaves: 31\nexp_name: a\n")
    second = tmp_path / "second.yaml"
    second.write_text("num_leaves: 63\nseed: 7\n")
    args = _args([first, second], [("seed", "8")])
    assert parameters_from_args(args) == {
        "learning_rate": 0.1,
        "num_leaves": 63,  # the later file wins over the earlier one
        "exp_name": "a",
        "seed": 8,  # -p wins over every file
    }
    # and the other way round: order, not name, decides
    assert parameters_from_args(_args([second, first]))["num_leaves"] == 31


def test_later_p_wins_over_earlier_p():
    assert parameters_from_args(_args(params=[("seed", "1"), ("seed", "2")])) == {"seed": 2}


def test_file_values_keep_their_yaml_types(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("refit: false\nlearning_rate: 1.0e-3\nexp_name: '007'\n")
    assert parameters_from_args(_args([path])) == {
        "refit": False,
        "learning_rate": 0.001,
        "exp_name": "007",
    }


def test_an_empty_file_sets_nothing(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n")
    assert parameters_from_args(_args([path], [("seed", "3")])) == {"seed": 3}


@pytest.mark.parametrize(
    ("content", "kind"),
    [("- learning_rate\n- 0.1\n", "list"), ("0.1\n", "float"), ("exp001\n", "str")],
)
def test_a_file_that_is_not_a_mapping_is_a_user_error(tmp_path, content, kind):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(UserError) as err:
        parameters_from_args(_args([path]))
    message = str(err.value)
    assert str(path) in message and "mapping" in message and kind in message


def test_a_missing_file_is_a_user_error_naming_it(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(UserError, match=r"nowhere\.yaml"):
        parameters_from_args(_args([path]))


def test_invalid_yaml_is_a_user_error_naming_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("learning_rate: [0.1\nseed: 3\n")
    with pytest.raises(UserError) as err:
        parameters_from_args(_args([path]))
    assert str(path) in str(err.value) and "YAML" in str(err.value)


# ---- one_line_errors --------------------------------------------------------------------------


def _one_stderr_line(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    "error",
    [
        UserError("data_dir /x does not exist"),
        ConfigError("unknown parameter 'x'"),
        FileExistsError("output_dir /y already holds a run"),
        FileNotFoundError("no such sweep folder /z"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(capsys, error):
    @one_line_errors
    def handler(args):
        raise error

    assert handler(argparse.Namespace()) == 2
    assert _one_stderr_line(capsys) == f"error: {error}"


def test_other_exceptions_propagate(capsys):
    @one_line_errors
    def handler(args):
        raise KeyError("a bug, not a user error")

    with pytest.raises(KeyError):
        handler(argparse.Namespace())
    assert capsys.readouterr().err == ""


def test_a_handler_returning_none_exits_0_and_codes_pass_through(capsys):
    seen = []

    @one_line_errors
    def quiet(args):
        seen.append(args)

    @one_line_errors
    def three(args):
        return 3

    args = argparse.Namespace(x=1)
    assert quiet(args) == 0
    assert seen == [args]  # called with the parsed arguments
    assert three(args) == 3
    assert capsys.readouterr().err == ""
    assert quiet.__name__ == "quiet"  # functools.wraps: help and tracebacks keep the name
