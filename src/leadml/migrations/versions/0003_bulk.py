"""bulk scoring: priority bands and refresh interval per config, top reasons and a ranking index

Revision ID: 0003_bulk
Revises: 0004_security
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_bulk'
down_revision = '0004_security'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('scoring_configs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority_top_band', sa.Float(), server_default='75', nullable=False))
        batch_op.add_column(sa.Column('priority_high_band', sa.Float(), server_default='50', nullable=False))
        batch_op.add_column(sa.Column('priority_medium_band', sa.Float(), server_default='25', nullable=False))
        batch_op.add_column(sa.Column('refresh_interval_hours', sa.Integer(), nullable=True))
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('top_reasons', sa.String(length=400), nullable=True))
        batch_op.create_index('ix_predictions_ranking', ['config_id', 'type', 'status', 'priority_score'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index('ix_predictions_ranking')
        batch_op.drop_column('top_reasons')
    with op.batch_alter_table('scoring_configs', schema=None) as batch_op:
        batch_op.drop_column('refresh_interval_hours')
        batch_op.drop_column('priority_medium_band')
        batch_op.drop_column('priority_high_band')
        batch_op.drop_column('priority_top_band')
