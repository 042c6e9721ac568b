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

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        self.runner.wait(job_id, timeout)

    def shutdown(self) -> None:
        self.runner.shutdown()
