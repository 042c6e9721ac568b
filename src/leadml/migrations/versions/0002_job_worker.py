"""jobs record their worker process and heartbeat

Revision ID: 0002_job_worker
Revises: 0003_bulk
"""
from alembic import op
import sqlalchemy as sa
import leadml.storage.types


revision = '0002_job_worker'
down_revision = '0003_bulk'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worker', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', leadml.storage.types.EpochMillis(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('worker')
