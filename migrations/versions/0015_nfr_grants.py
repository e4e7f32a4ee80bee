"""orders.granted: the NFR seats granted to every partner and sub-partner (one
grant per company and expiry day); existing companies are granted by `flask setup`,
through the service, not here

Revision ID: 0015_nfr_grants
Revises: 0014_partial_approval
Create Date: 2026-12-02 14:44:24.034573

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_nfr_grants'
down_revision = '0014_partial_approval'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('granted', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.create_index('ux_orders_nfr_grant', ['company_id', 'expires_on'], unique=True, sqlite_where=sa.text('granted = 1'), postgresql_where=sa.text('granted'))



def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ux_orders_nfr_grant', sqlite_where=sa.text('granted = 1'), postgresql_where=sa.text('granted'))
        batch_op.drop_column('granted')

