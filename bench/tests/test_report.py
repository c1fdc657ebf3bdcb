"""The table's ratios are to rclone and to the ceiling within one setting, and the Lambda
profile's targets are judged per CPU quota."""

from __future__ import annotations

from bench.report import RunRecord, summarize, verdicts


def run(contender: str, mib_s: float, cpu_s: float, *, quota: float, repeat: int = 0) -> RunRecord:
    return RunRecord(
        contender=contender,
        sink="null",
        source="range",
        size_mib=1024,
        repeat=repeat,
        wall_s=1024 / mib_s,
        mib_s=mib_s,
        peak_rss_mib=150.0,
        cpu_s=cpu_s,
        processes=[],
        ok=True,
        verification="size + whole-object CRC32",
        tls=True,
        cpu_quota=quota,
        throttling={"nr_periods": 100, "nr_throttled": 50, "throttled_s": 2.0},
    )


def test_ratios_compare_with_rclone_and_the_ceiling_at_the_same_quota() -> None:
    runs = [
        run("copier", 90.0, 6.0, quota=0.58),
        run("rclone", 60.0, 8.0, quota=0.58),
        run("ceiling", 120.0, 4.0, quota=0.58),
        run("copier", 100.0, 6.0, quota=1.0),
        run("rclone", 100.0, 8.0, quota=1.0),
        run("ceiling", 200.0, 4.0, quota=1.0),
    ]

    rows = {(r.contender, r.cpu_quota): r for r in summarize(runs)}

    assert rows["copier", 0.58].vs_rclone == 1.5
    assert rows["copier", 0.58].cpu_vs_rclone == 0.75
    assert rows["copier", 0.58].vs_ceiling == 0.75
    assert rows["copier", 1.0].vs_rclone == 1.0
    assert rows["copier", 1.0].vs_ceiling == 0.5
    assert rows["copier", 1.0].median_throttled_share == 0.5


def test_speed_targets_depend_on_the_quota() -> None:
    runs = [
        run("copier", 90.0, 6.0, quota=0.58),
        run("rclone", 60.0, 8.0, quota=0.58),
        run("ceiling", 120.0, 4.0, quota=0.58),
        run("copier", 100.0, 6.0, quota=1.0),
        run("rclone", 100.0, 8.0, quota=1.0),
        run("ceiling", 200.0, 4.0, quota=1.0),
    ]

    found = verdicts(summarize(runs), runs, main_size_mib=1024, large_size_mib=0)

    met = {(v.target, v.setting.split(", ")[2]): v.met for v in found}
    assert met["copier MiB/s >= 1.25x rclone's", "0.58 vCPU"] is True
    assert met["copier MiB/s >= 1.1x rclone's", "1 vCPU"] is False
    assert met["copier MiB/s >= 0.6x the boto3 ceiling", "1 vCPU"] is False
    assert met["copier CPU s/GiB <= 0.75x rclone's", "0.58 vCPU"] is True
    assert ("copier MiB/s >= 0.6x the boto3 ceiling", "0.58 vCPU") not in met
