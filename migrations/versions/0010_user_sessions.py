"""user_sessions: sign-in sessions kept on the server (a cookie names one; signing
out ends it)

Revision ID: 0010_user_sessions
Revises: 0009_heartbeats
Create Date: 2026-12-02 01:49:43.921523

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_user_sessions'
down_revision = '0009_heartbeats'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_reason', sa.String(length=32), nullable=True),
    sa.Column('address', sa.String(length=45), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], name='fk_user_sessions_user_id', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_user_sessions_started', ['started_at'], unique=False)
        batch_op.create_index('ix_user_sessions_user_open', ['user_id', 'ended_at'], unique=False)



def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_user_sessions_user_open')
        batch_op.drop_index('ix_user_sessions_started')

    op.drop_table('user_sessions')
