"""reminder_parts: each company's group in an account manager's partner-side
reminder email, once per (step, company, local expiry day, account manager)

Revision ID: 0020_reminder_parts
Revises: 0019_company_reminder_settings
Create Date: 2026-12-02 18:35:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_reminder_parts'
down_revision = '0019_company_reminder_settings'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reminder_parts',
    sa.Column('step_key', sa.String(length=32), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('group_day', sa.Date(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name='fk_reminder_parts_company_id', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['email_id'], ['emails.id'], name='fk_reminder_parts_email_id', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], name='fk_reminder_parts_user_id', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('step_key', 'company_id', 'group_day', 'user_id')
    )
    op.create_index('ix_reminder_parts_email', 'reminder_parts', ['email_id'], unique=False)


def downgrade():
    op.drop_index('ix_reminder_parts_email', table_name='reminder_parts')
    op.drop_table('reminder_parts')
