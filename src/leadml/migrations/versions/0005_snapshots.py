"""snapshot leads: a lead imported with its outcome

Revision ID: 0005_snapshots
Revises: 9c9b42f5403e
Create Date: 2026-12-04 18:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_snapshots'
down_revision = '9c9b42f5403e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('leads') as batch:
        batch.add_column(sa.Column('snapshot', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('leads') as batch:
        batch.drop_column('snapshot')
