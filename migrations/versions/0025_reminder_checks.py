"""reminder_checks: what the planning learnt about each group when it last looked
(nothing to do from quiet_from until quiet_until), so a run passes over quiet groups
in SQL

Revision ID: 0025_reminder_checks
Revises: 0024_emails_group_index
Create Date: 2026-12-03 10:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0025_reminder_checks'
down_revision = '0024_emails_group_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'reminder_checks',
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('group_day', sa.Date(), nullable=False),
        sa.Column('trial', sa.Boolean(), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.Column('last_order_id', sa.Integer(), nullable=False),
        sa.Column('quiet_from', sa.DateTime(timezone=True), nullable=False),
        sa.Column('quiet_until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['company_id'], ['companies.id'],
            name='fk_reminder_checks_company_id', ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('company_id', 'group_day', 'trial'),
    )


def downgrade():
    op.drop_table('reminder_checks')
