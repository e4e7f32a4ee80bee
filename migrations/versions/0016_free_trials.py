"""Free Trials: one per company (a unique partial index), ended early by their
upgrade (orders.ended_at); requests made with an Upgrade Now link carry the link's
token digest, one request per link (orders.upgrade_token)

Revision ID: 0016_free_trials
Revises: 0015_nfr_grants
Create Date: 2026-12-02 17:17:57.610748

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_free_trials'
down_revision = '0015_nfr_grants'
branch_labels = None
depends_on = None

TRIAL = "license_type = 'trial'"


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('upgrade_token', sa.String(length=64), nullable=True))
        batch_op.create_index('ux_orders_trial', ['company_id'], unique=True, sqlite_where=sa.text(TRIAL), postgresql_where=sa.text(TRIAL))
        batch_op.create_index('ux_orders_upgrade_token', ['upgrade_token'], unique=True)


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ux_orders_upgrade_token')
        batch_op.drop_index('ux_orders_trial', sqlite_where=sa.text(TRIAL), postgresql_where=sa.text(TRIAL))
        batch_op.drop_column('upgrade_token')
        batch_op.drop_column('ended_at')
