"""orders.split_from_id: a partial approval's declined remainder names the order it
was split from

Revision ID: 0014_partial_approval
Revises: 0013_po_number_coterm
Create Date: 2026-12-02 14:39:30.223877

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_partial_approval'
down_revision = '0013_po_number_coterm'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('split_from_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_orders_split_from_id', 'orders', ['split_from_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint('fk_orders_split_from_id', type_='foreignkey')
        batch_op.drop_column('split_from_id')

