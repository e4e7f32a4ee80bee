"""emails.state 'skipped': a reminder step with nothing to do when it was due,
recorded with its reason (last_error), not sent

Revision ID: 0018_skipped_emails
Revises: 0017_reminder_schedules
Create Date: 2026-12-02 18:05:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018_skipped_emails'
down_revision = '0017_reminder_schedules'
branch_labels = None
depends_on = None

STATES = "'pending', 'sending', 'sent', 'retrying', 'failed', 'needs_attention', 'cancelled'"


def upgrade():
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.drop_constraint('ck_emails_state', type_='check')
        batch_op.create_check_constraint('ck_emails_state', f"state IN ({STATES}, 'skipped')")


def downgrade():
    op.execute("UPDATE emails SET state = 'cancelled' WHERE state = 'skipped'")
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.drop_constraint('ck_emails_state', type_='check')
        batch_op.create_check_constraint('ck_emails_state', f"state IN ({STATES})")
