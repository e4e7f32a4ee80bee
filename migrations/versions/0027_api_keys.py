"""api_keys: managers' REST API credentials (SHA-256 of the key, found by its
prefix); audit_events.via: the API key a change came through

Revision ID: 0027_api_keys
Revises: 0026_reminder_runs
Create Date: 2026-12-03 14:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0027_api_keys'
down_revision = '0026_reminder_runs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=True),
        sa.Column('limited_to_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('read_only', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_by_id', sa.Integer(), nullable=True),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_used_from', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['ab_user.id'], name='fk_api_keys_user_id', ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['company_id'], ['companies.id'], name='fk_api_keys_company_id', ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['limited_to_id'], ['companies.id'],
            name='fk_api_keys_limited_to_id', ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['created_by_id'], ['ab_user.id'],
            name='fk_api_keys_created_by_id', ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['revoked_by_id'], ['ab_user.id'],
            name='fk_api_keys_revoked_by_id', ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ux_api_keys_prefix', 'api_keys', ['prefix'], unique=True)
    op.create_index(
        'ix_api_keys_company_created', 'api_keys', ['company_id', 'created_at'], unique=False
    )
    op.create_index('ix_api_keys_user', 'api_keys', ['user_id'], unique=False)
    with op.batch_alter_table('audit_events') as batch_op:
        batch_op.add_column(sa.Column('via', sa.String(length=80), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_events') as batch_op:
        batch_op.drop_column('via')
    op.drop_index('ix_api_keys_user', table_name='api_keys')
    op.drop_index('ix_api_keys_company_created', table_name='api_keys')
    op.drop_index('ux_api_keys_prefix', table_name='api_keys')
    op.drop_table('api_keys')
