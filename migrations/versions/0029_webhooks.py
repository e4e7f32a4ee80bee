"""webhooks: a company's subscriptions, the events written with the change they
tell of, and their deliveries (own states, retried with backoff, a log to replay)

Revision ID: 0029_webhooks
Revises: 0028_api_requests
Create Date: 2026-12-03 17:10:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0029_webhooks'
down_revision = '0028_api_requests'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'webhooks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('secret', sa.String(length=100), nullable=False),
        sa.Column('events', sa.String(length=400), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['company_id'], ['companies.id'], name='fk_webhooks_company_id', ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['created_by_id'], ['ab_user.id'],
            name='fk_webhooks_created_by_id', ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhooks_company', 'webhooks', ['company_id', 'id'], unique=False)
    op.create_table(
        'webhook_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uid', sa.String(length=40), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=True),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ['company_id'], ['companies.id'],
            name='fk_webhook_events_company_id', ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ux_webhook_events_uid', 'webhook_events', ['uid'], unique=True)
    op.create_index('ux_webhook_events_key', 'webhook_events', ['key'], unique=True)
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('webhook_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('replay_of_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['webhook_id'], ['webhooks.id'],
            name='fk_webhook_deliveries_webhook_id', ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['event_id'], ['webhook_events.id'],
            name='fk_webhook_deliveries_event_id', ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['replay_of_id'], ['webhook_deliveries.id'],
            name='fk_webhook_deliveries_replay_of', ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_webhook_deliveries_due', 'webhook_deliveries', ['state', 'next_attempt_at'],
        unique=False,
    )
    op.create_index(
        'ix_webhook_deliveries_webhook', 'webhook_deliveries', ['webhook_id', 'id'], unique=False
    )
    op.create_index(
        'ix_webhook_deliveries_event', 'webhook_deliveries', ['event_id'], unique=False
    )


def downgrade():
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_events')
    op.drop_table('webhooks')
