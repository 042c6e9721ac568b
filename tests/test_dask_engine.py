"""The dask engine on a real LocalCluster with worker processes, reading the test PostgreSQL: the same
predictions as the local engine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from leadml import db
from leadml.jobs import dask_engine
from leadml.scoring import bulk
from leadml.storage import configs, tenants
from leadml.storage.bulk import insert_funnel
from leadml.storage.tables import Prediction
from leadml.synth import generate_funnel

distributed = pytest.importorskip("distributed")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _stored(sessions, config_id):
    with db.transaction(sessions) as session:
        rows = session.execute(select(Prediction.lead_id, Prediction.probability, Prediction.confidence,
                                      Prediction.predicted_days, Prediction.interval_low, Prediction.priority_score,
                                      Prediction.priority_tier, Prediction.top_reasons)
                               .where(Prediction.config_id == config_id, Prediction.status == "ACTIVE")).all()
    return {r.lead_id: tuple(r[1:]) for r in rows}


@pytest.mark.postgres
def test_dask_engine_gives_the_local_predictions(postgres_database_url):
    engine = db.make_engine(postgres_database_url)
    sessions = db.make_session_factory(engine)
    with db.transaction(sessions) as session:
        tenant, _key = tenants.create_tenant(session, name="dask")
        config = configs.create_config(session, tenant_id=tenant.id, values={"name": "dask"})
        ids = tenant.id, config.id
    insert_funnel(engine, generate_funnel(600, seed=5, now=NOW), tenant_id=ids[0], config_id=ids[1])
    request = bulk.BulkRequest(limit=None, force_refresh=True, chunk_leads=25)
    now = datetime.now(UTC)
    with db.transaction(sessions) as session:
        plan = bulk.plan(session, config=configs.get_config(session, tenant_id=None, config_id=ids[1]),
                         request=request, now=now)
    assert len(plan.to_score) > 50
    bulk.run(engine, sessions, plan, request=request)
    local = _stored(sessions, ids[1])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        summary = dask_engine.run(engine, sessions, plan, request=request, scheduler=cluster.scheduler_address)
    remote = _stored(sessions, ids[1])
    assert summary.successful == len(plan.to_score) == len(remote) == len(local)
    assert remote.keys() == local.keys()
    for lead_id, values in local.items():
        assert remote[lead_id][:5] == pytest.approx(values[:5], abs=1e-9)
        assert remote[lead_id][5:] == values[5:]
    engine.dispose()
