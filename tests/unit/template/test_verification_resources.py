"""The verification's functions as deployed: time and /tmp for the shards' checks, and the Map
that fans the batches out, bounded by a parameter."""

from __future__ import annotations

from aiven_backup.verify.spool_space import SCRATCH_MARGIN
from aiven_backup.workflow.settings import VerifySettings
from tests.support.sam_template import translated
from tests.support.state_machine import ITERATIONS, STATES

TRANSLATED = translated()
VERIFY_FUNCTIONS = ("VerifyBackupFunction", "VerifyShardsFunction", "FinishVerificationFunction")

LARGEST_TSM_FILE = 2 * 1024**3  # influxd's maxTSMFileSize (tsdb/engine/tsm1/compact.go)


def properties(function: str) -> dict[str, object]:
    props: dict[str, object] = TRANSLATED["Resources"][function]["Properties"]
    return props


def test_verify_shards_has_lambdas_longest_timeout_and_sized_tmp_and_memory() -> None:
    props = properties("VerifyShardsFunction")

    assert props["Timeout"] == 900
    assert props["EphemeralStorage"] == {"Size": {"Ref": "VerifyEphemeralStorage"}}
    assert props["MemorySize"] == {"Ref": "VerifyMemorySize"}


def test_every_verification_task_outlives_its_function() -> None:
    tasks = {
        "VerifyBackup": "VerifyBackupFunction",
        "VerifyShards": "VerifyShardsFunction",
        "FinishVerification": "FinishVerificationFunction",
    }
    inner = ITERATIONS["VerifyEachBatch"]["States"]
    for state, function in tasks.items():
        definition = STATES.get(state) or inner[state]
        assert definition["TimeoutSeconds"] > properties(function)["Timeout"]


def test_the_map_runs_the_batches_at_the_concurrency_of_the_parameter() -> None:
    batches = STATES["VerifyEachBatch"]

    assert batches["ItemsPath"] == "$.verification.batches"
    assert batches["MaxConcurrencyPath"] == "$.verification.max_concurrency"
    variables = properties("VerifyBackupFunction")["Environment"]["Variables"]  # type: ignore[index]
    assert variables["VERIFY_MAX_CONCURRENCY"] == {"Ref": "VerifyMaxConcurrency"}
    parameter = TRANSLATED["Parameters"]["VerifyMaxConcurrency"]
    assert int(parameter["Default"]) == VerifySettings().max_concurrency
    assert batches["ResultPath"] is None  # the run state passes through, the reports are in S3


def test_max_data_age_hours_reaches_the_step_that_decides_stale() -> None:
    variables = properties("FinishVerificationFunction")["Environment"]["Variables"]  # type: ignore[index]

    assert variables["MAX_DATA_AGE_HOURS"] == {"Ref": "MaxDataAgeHours"}
    assert TRANSLATED["Parameters"]["MaxDataAgeHours"]["Default"] == ""


def test_the_default_tmp_of_verify_shards_holds_the_largest_tsm_file_influxd_writes() -> None:
    default_mb = int(TRANSLATED["Parameters"]["VerifyEphemeralStorage"]["Default"])

    assert default_mb * 1024 * 1024 >= LARGEST_TSM_FILE + SCRATCH_MARGIN
