"""Seat reclaim: learners.last_active_on and learners.do_not_renew (a manager's flag:
NULL follows the company's rule), companies.inactive_days (the rule; NULL: off)

Revision ID: 0021_seat_reclaim
Revises: 0020_reminder_parts
Create Date: 2026-12-02 18:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021_seat_reclaim'
down_revision = '0020_reminder_parts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('learners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_active_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('do_not_renew', sa.Boolean(), nullable=True))
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inactive_days', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            'ck_companies_inactive_days', 'inactive_days IS NULL OR inactive_days BETWEEN 1 AND 3650'
        )


def downgrade():
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_constraint('ck_companies_inactive_days', type_='check')
        batch_op.drop_column('inactive_days')
    with op.batch_alter_table('learners', schema=None) as batch_op:
        batch_op.drop_column('do_not_renew')
        batch_op.drop_column('last_active_on')
