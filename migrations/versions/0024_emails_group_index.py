"""The reminder planning's look-up of the steps written for each group: ix_emails_group

Revision ID: 0024_emails_group_index
Revises: 0023_reminders_since
Create Date: 2026-12-03 10:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024_emails_group_index'
down_revision = '0023_reminders_since'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.create_index('ix_emails_group', ['company_id', 'group_day', 'kind'], unique=False)


def downgrade():
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.drop_index('ix_emails_group')
