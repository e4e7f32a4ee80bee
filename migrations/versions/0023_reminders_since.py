"""Reminder steps due before a company's change are not its: companies.reminders_since

Revision ID: 0023_reminders_since
Revises: 0022_import_last_active
Create Date: 2026-12-03 09:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0023_reminders_since'
down_revision = '0022_import_last_active'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminders_since', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_column('reminders_since')
