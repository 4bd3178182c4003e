"""``--time-steps`` is for graphs whose metadata states no T: against an export that states
one, a different T is refused before any work (it used to run the whole simulation and then
fail on the payload size, or report a payload of the wrong size as a result)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("command", ["sim", "channel"])
def test_a_time_steps_other_than_the_export_is_refused(work, refused, command):
    export = work / "export"
    refused(
        command,
        export,
        "--samples",
        "2",
        "--time-steps",
        "5",
        touches=[work],
        match=f"--time-steps 5: {export} states T = 2; --time-steps is for graphs whose metadata states none",
    )


def test_the_same_time_steps_as_the_export_is_accepted(work, run_sbn):
    code, out, err = run_sbn(
        "channel",
        work / "export",
        "--samples",
        "2",
        "--channel",
        "bsc:0.1",
        "--time-steps",
        "2",
        "--format",
        "json",
    )
    assert code == 0, err
    assert '"time_steps": 2' in out
