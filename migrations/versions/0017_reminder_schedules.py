"""Reminder schedules: at most one per company (its subtree's default), each an
ordered set of steps keyed by anchor and signed offset ("before-72h"), with an
audience and the instant from which the step applies

Revision ID: 0017_reminder_schedules
Revises: 0016_free_trials
Create Date: 2026-12-02 18:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_reminder_schedules'
down_revision = '0016_free_trials'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reminder_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name='fk_reminder_schedules_company_id', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['ab_user.id'], name='fk_reminder_schedules_updated_by', ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ux_reminder_schedules_company', 'reminder_schedules', ['company_id'], unique=True)
    op.create_table('reminder_schedule_steps',
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('step_key', sa.String(length=16), nullable=False),
    sa.Column('audience', sa.String(length=32), nullable=False),
    sa.Column('applies_from', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("audience IN ('company_managers', 'account_managers', 'both')", name='ck_reminder_schedule_steps_audience'),
    sa.ForeignKeyConstraint(['schedule_id'], ['reminder_schedules.id'], name='fk_reminder_schedule_steps_schedule_id', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('schedule_id', 'step_key')
    )


def downgrade():
    op.drop_table('reminder_schedule_steps')
    op.drop_index('ux_reminder_schedules_company', table_name='reminder_schedules')
    op.drop_table('reminder_schedules')
