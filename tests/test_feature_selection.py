"""Feature selection and registration edge cases the contract tests leave open: a `features`
string applied term by term in order (a group removed, then one of its features put back), a
`@feature()` whose function is named like a built-in feature or group, and the notebook scan
reading `@feature(name=...)` by keyword. (`pipeline.start` applying `cfg.features` is
test_audit.py's `test_validate_audits_before_any_training`.)"""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from store_sales import cli, runner
from store_sales.errors import ConfigError
from store_sales.features import REGISTRY, feature, feature_names, select
from store_sales.features.contract import FeatureError
from store_sales.features.scan import declared


def test_terms_apply_in_order_so_a_removed_groups_feature_can_come_back(capsys):
    back = feature_names(select("default,-yearly,+year_ago"))
    assert "year_ago" in back and "year_ago_mean_7" not in back
    gone = feature_names(select("default,+year_ago,-yearly"))
    assert not {"year_ago", "year_ago_mean_7"} & set(gone)
    assert len(back) == len(gone) + 1
    # what `store-sales run exp001 --list-features` marks as selected (*)
    spec = "default,-yearly,+year_ago"
    assert cli.main(["run", "exp001", "--list-features", "-p", "features", spec]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_name = {line[2:].split()[1]: line for line in lines[1:]}  # "* group name  description"
    assert by_name["year_ago"].startswith("* yearly")
    assert by_name["year_ago_mean_7"].startswith("  yearly")


def _cell(source: str) -> None:
    """Run `source` as a notebook cell would (module `__main__`)."""
    exec(source, {"__name__": "__main__", "feature": feature, "np": np})


@pytest.mark.parametrize(
    ("function", "message"),
    [("mean_7", "'mean_7' is built in"), ("yearly", "'yearly' names a feature group")],
)
def test_a_nameless_feature_named_like_a_builtin_or_group_is_refused(function, message):
    builtin = dict(REGISTRY)
    try:
        with pytest.raises(FeatureError, match=message):
            _cell(f"@feature()\ndef {function}(known):\n    return known.y[:, -1]\n")
    finally:  # a refusal that did not happen must not leave the registry changed for others
        REGISTRY.clear()
        REGISTRY.update(builtin)
    assert REGISTRY["mean_7"].builtin and REGISTRY["mean_7"].fn.__module__ != "__main__"


def test_the_scan_reads_the_name_and_group_given_by_keyword(tmp_path):
    found = declared(
        [
            "@feature(name='promo_share', group='mine')\ndef helper(k):\n"
            "    '''share of days on promotion'''\n    return 1\n",
            "@feature(name='promo_late')\ndef helper2(k):\n    return 1\n",
        ]
    )
    assert found == {
        "promo_share": ("mine", "share of days on promotion"),
        "promo_late": ("notebook", ""),
    }
    # the runner's check before any kernel: the keyword name is the one `features` selects
    path = tmp_path / "exp001.ipynb"
    nb = nbformat.read(runner.resolve_notebook("exp001"), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "features" in c.metadata.get("tags", []))
    cell = "@feature(name='promo_share')\ndef helper(known):\n    return known.promo[:, -1]\n"
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(cell))
    nbformat.write(nb, path)
    runner.check_config(path, {"features": "default,+promo_share"})
    with pytest.raises(ConfigError, match="'helper'"):
        runner.check_config(path, {"features": "default,+helper"})
    # a keyword name of a built-in is refused too, whatever the function is called
    nb.cells[at + 1] = nbformat.v4.new_code_cell(cell.replace("promo_share", "mean_7"))
    nbformat.write(nb, path)
    with pytest.raises(ConfigError, match=r"@feature\('mean_7'\) is the name of a built-in"):
        runner.check_config(path, {})
