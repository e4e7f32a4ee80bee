"""order_people: the people a renewal request was made for ("Request renewal for
these N people"), one open request per person; orders.renewal marks such requests

Revision ID: 0011_order_people
Revises: 0010_user_sessions
Create Date: 2026-12-02 13:46:23.660328

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_order_people'
down_revision = '0010_user_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('order_people',
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('expires_then', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pending', sa.Boolean(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('licensed', 'renewed', 'deactivated', 'kept')", name='ck_order_people_outcome'),
    sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], name='fk_order_people_learner_id', ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name='fk_order_people_order_id', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', 'learner_id')
    )
    with op.batch_alter_table('order_people', schema=None) as batch_op:
        batch_op.create_index('ux_order_people_pending', ['learner_id'], unique=True, sqlite_where=sa.text('pending = 1'), postgresql_where=sa.text('pending'))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('renewal', sa.Boolean(), server_default=sa.text('false'), nullable=False))



def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('renewal')

    with op.batch_alter_table('order_people', schema=None) as batch_op:
        batch_op.drop_index('ux_order_people_pending', sqlite_where=sa.text('pending = 1'), postgresql_where=sa.text('pending'))

    op.drop_table('order_people')
