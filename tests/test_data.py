import pandas as pd
import pytest

from store_sales.data import SCHEMAS, DataError, load_data


def test_loads_seven_files_in_lean_dtypes(small_data_dir):
    data = load_data(small_data_dir)
    assert data.synthetic
    train = data.train
    assert list(train.columns) == list(SCHEMAS["train"])
    assert str(train["sales"].dtype) == "float32"
    assert str(train["store_nbr"].dtype) == "int16"
    assert isinstance(train["family"].dtype, pd.CategoricalDtype)
    assert str(train["date"].dtype) == "datetime64[ns]"
    assert data.oil["dcoilwtico"].isna().any()  # NaNs survive: they are part of the data
    assert data.holidays_events["transferred"].dtype == bool


def test_missing_file_names_file_and_how_to_get_data(data_copy):
    (data_copy / "oil.csv").unlink()
    with pytest.raises(DataError) as err:
        load_data(data_copy)
    msg = str(err.value)
    assert "oil.csv not found" in msg
    assert "kaggle competitions download -c store-sales-time-series-forecasting" in msg
    assert "store-sales synth" in msg


def test_missing_column_is_named(data_copy):
    path = data_copy / "stores.csv"
    stores = pd.read_csv(path).drop(columns="cluster")
    stores.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"stores.csv: missing column\(s\) \['cluster'\]"):
        load_data(data_copy)


def test_unparseable_date_is_reported_with_the_file(data_copy):
    path = data_copy / "transactions.csv"
    lines = path.read_text().splitlines()
    first = lines[1].split(",")
    lines[1] = ",".join(["2017-13-45", *first[1:]])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        load_data(data_copy)
    assert "transactions.csv" in str(err.value)
    assert "YYYY-MM-DD" in str(err.value)


def test_test_period_must_follow_train(data_copy):
    path = data_copy / "test.csv"
    test = pd.read_csv(path)
    test["date"] = (pd.to_datetime(test["date"]) + pd.Timedelta(days=3)).dt.strftime("%Y-%m-%d")
    test.to_csv(path, index=False)
    # as a train.csv cut at a day's end: both files are named, train.csv first
    with pytest.raises(DataError, match=r"train.csv: ends on .* but test.csv starts on"):
        load_data(data_copy)


def test_test_days_must_be_consecutive(data_copy):
    path = data_copy / "test.csv"
    test = pd.read_csv(path)
    last = test["date"] == test["date"].max()
    test.loc[last, "date"] = "2017-09-05"
    test.to_csv(path, index=False)
    with pytest.raises(DataError, match="test period must be the consecutive days right after"):
        load_data(data_copy)


def test_bad_input_destroys_nothing(data_copy):
    before = {p.name: p.read_bytes() for p in data_copy.glob("*.csv")}
    (data_copy / "test.csv").write_text("id,date\n")
    with pytest.raises(DataError):
        load_data(data_copy)
    after = {p.name: p.read_bytes() for p in data_copy.glob("*.csv")}
    assert {k: v for k, v in after.items() if k != "test.csv"} == {
        k: v for k, v in before.items() if k != "test.csv"
    }


def test_explicit_missing_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_data(tmp_path / "nowhere")


def duplicate_line(path, line: int) -> None:
    """Write `line` (1-based, header = 1) twice: the copy becomes line + 1."""
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(line, lines[line - 1])
    path.write_text("".join(lines))


@pytest.mark.parametrize(
    ("name", "line", "key"),
    [
        ("stores", 3, "(store_nbr)"),
        ("train", 10, "(date, store_nbr, family)"),
        ("test", 10, "(date, store_nbr, family)"),
    ],
)
def test_a_duplicate_key_names_file_line_and_fix(data_copy, name, line, key):
    duplicate_line(data_copy / f"{name}.csv", line)
    with pytest.raises(DataError) as err:
        load_data(data_copy)
    msg = str(err.value)
    assert f"{name}.csv: line {line + 1} repeats line {line} (" in msg
    assert f"each {key} must appear once. Remove the duplicate" in msg


def test_a_file_cut_mid_line_is_called_truncated(data_copy):
    path = data_copy / "train.csv"
    text = path.read_bytes()
    path.write_bytes(text[: len(text) - 20])  # inside the last line
    n_lines = text[: len(text) - 20].count(b"\n") + 1
    with pytest.raises(DataError, match=rf"train.csv: truncated: its last line \(line {n_lines}:"):
        load_data(data_copy)


def test_a_train_file_cut_at_a_line_end_is_called_truncated_not_test(data_copy):
    path = data_copy / "train.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-5]))
    with pytest.raises(DataError) as err:
        load_data(data_copy)
    msg = str(err.value)
    assert msg.startswith(f"{path}: truncated: its last day 2017-08-15 has ")
    assert f"ends at line {len(lines) - 5}" in msg
    assert "test.csv" not in msg


def test_a_file_without_a_final_newline_is_fine(data_copy):
    path = data_copy / "stores.csv"
    path.write_text(path.read_text().rstrip("\n"))
    assert len(load_data(data_copy).stores) == 3


@pytest.mark.parametrize(
    ("name", "where"),
    [("stores", "header buffer"), ("holidays_events", "deep"), ("train", "deep")],
)
def test_a_file_not_in_utf8_names_line_byte_and_encoding(data_copy, name, where):
    """A Latin-1 byte (a spreadsheet's save) in the first block read for the header, or deep
    in the file where arrow meets it, string column or not."""
    path = data_copy / f"{name}.csv"
    raw = path.read_bytes()
    line = 2 if where == "header buffer" else raw.count(b"\n") - 3
    start = sum(len(x) for x in raw.splitlines(keepends=True)[: line - 1])
    offset = start + 3
    path.write_bytes(raw[:offset] + b"\xe9" + raw[offset + 1 :])
    with pytest.raises(DataError) as err:
        load_data(data_copy)
    msg = str(err.value)
    assert len(msg.splitlines()) == 1
    assert msg.startswith(f"{path}: line {line} (byte offset {offset}) has byte 0xe9")
    assert "not UTF-8; Kaggle's files are UTF-8" in msg and "iconv" in msg


def test_an_empty_file_is_called_empty(data_copy):
    (data_copy / "oil.csv").write_bytes(b"")
    with pytest.raises(DataError, match=r"oil.csv: is empty \(0 bytes, no header line\)"):
        load_data(data_copy)
