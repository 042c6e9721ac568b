"""The API process's job service: submits recorded jobs to the background runner."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from leadml.config import Settings
from leadml.jobs import runner
from leadml.jobs.runner import JobRunner
from leadml.jobs.train import training_work
from leadml.scoring.training import TrainingOptions


class JobService:
    def __init__(self, engine: Engine, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.engine = engine
        self.sessions = sessions
        self.options = TrainingOptions.from_settings(settings)
        self.runner = JobRunner(sessions)

    def recover(self) -> list[int]:
        """Close the jobs a stopped process left queued/running/cancelling (called at server start)."""
        return runner.recover(self.sessions)

    def submit_training(self, job_id: int, config_id: int) -> None:
        self.runner.submit(job_id, training_work(self.engine, self.sessions, config_id, self.options))

    # --- bulk scoring (jobs/bulk.py) ----------------------------------------------------------

    def submit_bulk(self, job_id: int, model_loader=None) -> None:
        from leadml.jobs.bulk import bulk_work

        self.runner.submit(job_id, bulk_work(self.engine, self.sessions, job_id, model_loader=model_loader))

    def resume_bulk(self, model_loader=None) -> list[int]:
        """Requeue the bulk jobs an earlier process left unfinished; each resumes after its checkpoint."""
        from leadml import db
        from leadml.jobs.bulk import interrupted_jobs, requeue

        with db.transaction(self.sessions) as session:
            ids = []
            for job in interrupted_jobs(session):
                requeue(session, job)
                ids.append(job.id)
        for job_id in ids:
            self.submit_bulk(job_id, model_loader)
        return ids

    def refresh_due_configs(self, model_loader=None) -> list[int]:
        """Start a bulk job (expired or changed leads only) for each config whose refresh interval passed."""
        from leadml import db, errors
        from leadml.jobs.bulk import refresh_due, schedule_bulk
        from leadml.scoring.bulk import BulkRequest

        started = []
        with db.transaction(self.sessions) as session:
            for config in refresh_due(session):
                try:
                    job = schedule_bulk(session, config=config, request=BulkRequest(limit=None),
                                        reason="automatic: refresh interval")
                except errors.Conflict:
                    continue
                started.append(job.id)
        for job_id in started:
            self.submit_bulk(job_id, model_loader)
        return started

    def start_refresh_timer(self, model_loader=None, every_seconds: float = 60.0) -> None:
        """Check the configs' refresh intervals every minute in a daemon thread (off unless a config sets one)."""
        import threading

        self._refresh_stop = threading.Event()

        def loop() -> None:
            while not self._refresh_stop.wait(every_seconds):
                try:
                    self.refresh_due_configs(model_loader)
                except Exception:  # keep the timer alive; the next tick tries again
                    import logging

                    logging.getLogger(__name__).exception("scheduled refresh failed")

        self._refresh_thread = threading.Thread(target=loop, name="leadml-refresh", daemon=True)
        self._refresh_thread.start()

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        self.runner.wait(job_id, timeout)

    def shutdown(self) -> None:
        if getattr(self, "_refresh_stop", None) is not None:
            self._refresh_stop.set()
        self.runner.shutdown()
