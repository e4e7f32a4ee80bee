"""orders: the customer's PO number, and co-terming (the pool a top-up's seats expire
with)

Revision ID: 0013_po_number_coterm
Revises: 0012_license_types
Create Date: 2026-12-02 14:37:19.383596

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_po_number_coterm'
down_revision = '0012_license_types'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('po_number', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('coterm_order_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_orders_coterm_order_id', 'orders', ['coterm_order_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint('fk_orders_coterm_order_id', type_='foreignkey')
        batch_op.drop_column('coterm_order_id')
        batch_op.drop_column('po_number')

