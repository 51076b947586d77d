"""The Dask path (``--scheduler``) gives the rows of the local path, on a loopback cluster."""

import pytest

from flexspim.sweep.area import AreaOptions
from flexspim.sweep.point import Options, Point
from flexspim.sweep.runner import run_sweep

distributed = pytest.importorskip("dask.distributed")


def test_two_points_on_a_local_cluster_match_the_local_path(tmp_path, regress):
    points = [Point(4, 4, 2, 1, 2), Point(8, 4, 2, 1, 4)]
    # the area tasks synthesize each geometry on both paths (~15 s of CPU): long tier only
    opts, area = Options(network=False), AreaOptions() if regress else None
    local = run_sweep(points, opts, area, tmp_path / "local", jobs=2, progress=False)
    with distributed.LocalCluster(n_workers=2, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        remote = run_sweep(points, opts, area, tmp_path / "dask", jobs=1,
                           scheduler=cluster.scheduler_address, progress=False)
    assert remote.errors == [] and local.errors == []
    # 2 points (+ 2 areas), none cached
    assert remote.evaluated == local.evaluated == (4 if regress else 2)
    assert [r["status"] for r in remote.rows] == ["ok", "ok"]
    assert remote.rows == local.rows


def test_unreachable_scheduler_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="`--scheduler` tcp://127.0.0.1:9: cannot connect"):
        run_sweep([Point(4, 4, 1, 1, 2)], Options(network=False), None, tmp_path,
                  scheduler="tcp://127.0.0.1:9", progress=False, connect_timeout=2)
