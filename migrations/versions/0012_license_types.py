"""license types: Premium, Managed, Free Trial and NFR on orders, copied to their
licenses and to each learner beside the expiry of their latest license; every
existing order and license is Premium

Revision ID: 0012_license_types
Revises: 0011_order_people
Create Date: 2026-12-02 14:20:13.885885

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_license_types'
down_revision = '0011_order_people'
branch_labels = None
depends_on = None

TYPE_CHECK = "license_type IN ('premium', 'managed', 'trial', 'nfr')"


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('license_type', sa.String(length=16), server_default='premium', nullable=False))
        batch_op.create_check_constraint('ck_orders_license_type', TYPE_CHECK)

    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('license_type', sa.String(length=16), server_default='premium', nullable=False))
        batch_op.create_check_constraint('ck_licenses_license_type', TYPE_CHECK)

    with op.batch_alter_table('learners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('license_type', sa.String(length=16), nullable=True))
    # Everybody licensed so far holds (or held) a Premium license.
    op.execute("UPDATE learners SET license_type = 'premium' WHERE license_expires_at IS NOT NULL")
    with op.batch_alter_table('learners', schema=None) as batch_op:
        batch_op.create_index('ix_learners_active_type', ['company_id', 'license_type', 'license_expires_at'], unique=False, sqlite_where=sa.text('active = 1'), postgresql_where=sa.text('active'))


def downgrade():
    with op.batch_alter_table('learners', schema=None) as batch_op:
        batch_op.drop_index('ix_learners_active_type', sqlite_where=sa.text('active = 1'), postgresql_where=sa.text('active'))
        batch_op.drop_column('license_type')

    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.drop_constraint('ck_licenses_license_type', type_='check')
        batch_op.drop_column('license_type')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint('ck_orders_license_type', type_='check')
        batch_op.drop_column('license_type')
