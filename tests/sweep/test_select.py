"""The method's selection on hand-made trial records: budgets, relaxed budget, nothing
qualifying, ties, and the choice of the split point."""

import pytest

from sbn.errors import ConfigError
from sbn.sweep.select import (
    NO_RESULTS,
    NONE_QUALIFIED,
    RELAXED,
    WITHIN,
    Selection,
    choose,
    pareto,
    select_split,
    select_splits,
)

DEFAULT = Selection()  # 3 %, relaxed 4 %, energy on 45nm


def rec(split, channels, drop, bits, *, stride=1, t=2, energy=1.0, status="ok"):
    trial_id = f"RB{split}-c{channels}-s{stride}-T{t}"
    record = {
        "id": trial_id,
        "status": status,
        "trial": {"split": f"RB{split}", "channels": channels, "stride": stride, "time_steps": t},
    }
    if status == "ok":
        record.update(
            accuracy_drop=drop,
            transmitted_bits=bits,
            energy={"snn_mj": {"45nm": energy, "rolls": energy / 10}},
        )
    return record


def test_fewest_bits_within_budget():
    records = [
        rec(7, 16, 0.01, 4096),
        rec(7, 8, 0.029, 2048),
        rec(7, 4, 0.035, 1024),
        rec(3, 4, 0.0, 10),
    ]  # another split: ignored
    choice = select_split(7, records, DEFAULT)
    assert choice.status == WITHIN and choice.budget_pct == 3.0
    assert choice.trial["id"] == "RB7-c8-s1-T2"  # 1024 bits is 3.5 % down: outside 3 %
    assert (choice.finished, choice.failed) == (3, 0)


def test_drop_exactly_at_the_budget_qualifies():
    # 0.97 - 0.94 is 0.030000000000000027 in floating point: still "3 percentage points"
    drop = 0.97 - 0.94
    assert drop > 0.03
    choice = select_split(1, [rec(1, 4, drop, 100)], DEFAULT)
    assert choice.status == WITHIN


def test_relaxed_budget_where_none_qualifies():
    records = [rec(16, 32, 0.045, 512), rec(16, 64, 0.038, 1024), rec(16, 128, 0.031, 2048)]
    choice = select_split(16, records, DEFAULT)
    assert (choice.status, choice.budget_pct) == (RELAXED, 4.0)
    assert choice.trial["id"] == "RB16-c64-s1-T2"  # fewest bits among the <= 4 % ones


def test_none_qualified_and_no_results():
    none = select_split(2, [rec(2, 4, 0.2, 10), rec(2, 8, 0.05, 20)], DEFAULT)
    assert (none.status, none.trial, none.budget_pct, none.finished) == (NONE_QUALIFIED, None, None, 2)
    failed = select_split(2, [rec(2, 4, None, None, status="failed")], DEFAULT)
    assert (failed.status, failed.trial, failed.finished, failed.failed) == (NO_RESULTS, None, 0, 1)
    assert select_split(9, [], DEFAULT).status == NO_RESULTS


def test_ties_smaller_drop_then_smaller_t():
    same_bits = [rec(4, 8, 0.02, 512, t=2), rec(4, 4, 0.01, 512, t=4), rec(4, 16, 0.02, 512, t=2, stride=2)]
    assert select_split(4, same_bits, DEFAULT).trial["id"] == "RB4-c4-s1-T4"
    same_drop = [rec(4, 8, 0.01, 512, t=4), rec(4, 16, 0.01, 512, t=2, stride=2)]
    assert select_split(4, same_drop, DEFAULT).trial["id"] == "RB4-c16-s2-T2"
    # a full tie (not reachable with distinct trials, but the choice must not depend on order)
    a, b = rec(4, 8, 0.01, 512), rec(4, 8, 0.01, 512, stride=2)
    assert select_split(4, [a, b], DEFAULT).trial is select_split(4, [b, a], DEFAULT).trial


def test_budget_is_in_percentage_points():
    records = [rec(1, 4, 0.015, 100), rec(1, 8, 0.005, 200)]
    assert select_split(1, records, Selection(budget=1.0, relaxed_budget=2.0)).trial["id"] == "RB1-c8-s1-T2"
    assert select_split(1, records, Selection(budget=2.0, relaxed_budget=2.0)).trial["id"] == "RB1-c4-s1-T2"


def test_choose_split_by_energy_or_bits():
    records = [
        rec(1, 4, 0.0, 8192, energy=0.5),
        rec(4, 4, 0.0, 128, energy=2.0),
        rec(3, 4, 0.0, 1024, energy=1.0),
        rec(2, 4, 0.5, 10, energy=0.1),
    ]
    choices = select_splits([4, 3, 2, 1], records, DEFAULT)
    assert [c.split for c in choices] == [1, 2, 3, 4]
    assert choose(choices, DEFAULT).split == 1
    assert choose(choices, Selection(objective="bits")).split == 4
    assert pareto(choices, "45nm") == {1, 3, 4}  # RB2 has no choice; none dominates another


def test_choose_ties_and_nothing():
    records = [rec(1, 4, 0.02, 128, energy=1.0), rec(2, 4, 0.01, 128, energy=1.0)]
    choices = select_splits([1, 2], records, DEFAULT)
    assert choose(choices, DEFAULT).split == 2  # equal energy and bits: smaller drop
    assert pareto(choices, "45nm") == {1, 2}
    nothing = select_splits([1], [rec(1, 4, 0.9, 1)], DEFAULT)
    assert choose(nothing, DEFAULT) is None


def test_missing_energy_ranks_last_on_energy():
    records = [rec(1, 4, 0.0, 100, energy=5.0), rec(2, 4, 0.0, 10)]
    del records[1]["energy"]
    assert choose(select_splits([1, 2], records, DEFAULT), DEFAULT).split == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"budget": -1}, "--budget must be >= 0"),
        ({"budget": 5, "relaxed_budget": 4}, r"--relaxed-budget \(4\) must be >= --budget \(5\)"),
        ({"objective": "latency"}, "objective must be one of energy, bits"),
        ({"preset": "loihi"}, "energy preset must be one of 45nm, rolls"),
    ],
)
def test_selection_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Selection(**kwargs)
