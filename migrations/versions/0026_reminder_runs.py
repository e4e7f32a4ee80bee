"""reminder_runs: the last whole planning run (as of when, over which window), so the
next one probes only what was audited since; ix_audit_events_at_id carries the
company, ix_orders_expires_at what the planning groups orders by

Revision ID: 0026_reminder_runs
Revises: 0025_reminder_checks
Create Date: 2026-12-03 14:20:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0026_reminder_runs'
down_revision = '0025_reminder_checks'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'reminder_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('window_after', sa.DateTime(timezone=True), nullable=True),
        sa.Column('window_up_to', sa.DateTime(timezone=True), nullable=True),
        sa.Column('clock_offset', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    # The planning's window of orders, read from the index alone.
    op.drop_index('ix_orders_expires_at', table_name='orders')
    op.create_index(
        'ix_orders_expires_at',
        'orders',
        ['expires_at', 'status', 'company_id', 'expires_on', 'license_type', 'id'],
        unique=False,
    )
    # The companies audited since the last run, read from the newest events alone.
    op.drop_index('ix_audit_events_at_id', table_name='audit_events')
    op.create_index(
        'ix_audit_events_at_id', 'audit_events', ['at', 'id', 'company_id'], unique=False
    )


def downgrade():
    op.drop_index('ix_orders_expires_at', table_name='orders')
    op.create_index('ix_orders_expires_at', 'orders', ['expires_at'], unique=False)
    op.drop_index('ix_audit_events_at_id', table_name='audit_events')
    op.create_index('ix_audit_events_at_id', 'audit_events', ['at', 'id'], unique=False)
    op.drop_table('reminder_runs')
