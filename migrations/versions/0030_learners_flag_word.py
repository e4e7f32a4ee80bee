"""learners: ix_learners_flag_word, the people a manager flagged or cleared
(do_not_renew set), by company and expiry — the renewal tabs count their flagged
people from it when the company's inactivity rule is off

Revision ID: 0030_learners_flag_word
Revises: 0029_webhooks
Create Date: 2026-12-04 17:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0030_learners_flag_word'
down_revision = '0029_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('learners', schema=None) as batch_op:
        batch_op.create_index(
            'ix_learners_flag_word',
            ['company_id', 'license_expires_at'],
            unique=False,
            sqlite_where=sa.text('do_not_renew IS NOT NULL'),
            postgresql_where=sa.text('do_not_renew IS NOT NULL'),
        )


def downgrade():
    with op.batch_alter_table('learners', schema=None) as batch_op:
        batch_op.drop_index('ix_learners_flag_word')
