"""api_requests: the answers of API changes sent with an Idempotency-Key, so a retry
gets the same answer and changes nothing more

Revision ID: 0028_api_requests
Revises: 0027_api_keys
Create Date: 2026-12-03 15:05:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0028_api_requests'
down_revision = '0027_api_keys'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('api_key_id', sa.Integer(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=200), nullable=False),
        sa.Column('method', sa.String(length=8), nullable=False),
        sa.Column('path', sa.String(length=500), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('body', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['api_key_id'], ['api_keys.id'],
            name='fk_api_requests_api_key_id', ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ux_api_requests_key', 'api_requests', ['api_key_id', 'idempotency_key'], unique=True
    )


def downgrade():
    op.drop_index('ux_api_requests_key', table_name='api_requests')
    op.drop_table('api_requests')
