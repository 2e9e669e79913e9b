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
