"""companies.partner_handles_renewals (the company managers' reminder steps go to
the account managers above instead) and companies.send_digest (a partner's daily
digest, on unless turned off)

Revision ID: 0019_company_reminder_settings
Revises: 0018_skipped_emails
Create Date: 2026-12-02 18:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_company_reminder_settings'
down_revision = '0018_skipped_emails'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('partner_handles_renewals', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('send_digest', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade():
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_column('send_digest')
        batch_op.drop_column('partner_handles_renewals')
