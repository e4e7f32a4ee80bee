"""reminder_checks: ix_reminder_checks_quiet_until, the groups whose quiet span
ended (an incremental planning run reads them); the last run forgotten, so the
next one reads its whole window and leaves a check for every group of it

Revision ID: 0031_reminder_checks_quiet_until
Revises: 0030_learners_flag_word
Create Date: 2026-12-06 01:30:00

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "0031_reminder_checks_quiet_until"
down_revision = "0030_learners_flag_word"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reminder_checks", schema=None) as batch_op:
        batch_op.create_index("ix_reminder_checks_quiet_until", ["quiet_until"], unique=False)
    # Runs before this one dropped the checks of the groups they did not find quiet:
    # the next run must read its whole window once.
    op.execute(sa.text("UPDATE reminder_runs SET checked_at = NULL"))


def downgrade():
    with op.batch_alter_table("reminder_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_checks_quiet_until")
