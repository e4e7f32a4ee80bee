"""list indexes: the active people's expiry per company (seat position, Expired tab);
learners by last name then id (the lists' order with FAB's tie-breaker); audit events
and emails newest first over a whole tree

Revision ID: 0006_list_indexes
Revises: 0005_scheduler
Create Date: 2026-11-26 09:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006_list_indexes'
down_revision = '0005_scheduler'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_audit_events_at_id', 'audit_events', ['at', 'id'], unique=False)
    op.create_index('ix_emails_created_id', 'emails', ['created_at', 'id'], unique=False)
    with op.batch_alter_table('learners', schema=None) as batch_op:
        batch_op.drop_index('ix_learners_company_last_name')
        batch_op.create_index(
            'ix_learners_company_last_name', ['company_id', 'last_name', 'id'], unique=False
        )
        batch_op.create_index(
            'ix_learners_active_license',
            ['company_id', 'license_expires_at'],
            unique=False,
            postgresql_where=sa.text('active'),
            sqlite_where=sa.text('active = 1'),
        )


def downgrade():
    op.drop_index('ix_emails_created_id', table_name='emails')
    op.drop_index('ix_audit_events_at_id', table_name='audit_events')
    with op.batch_alter_table('learners', schema=None) as batch_op:
        batch_op.drop_index('ix_learners_active_license')
        batch_op.drop_index('ix_learners_company_last_name')
        batch_op.create_index(
            'ix_learners_company_last_name',
            ['company_id', 'last_name', 'first_name'],
            unique=False,
        )
