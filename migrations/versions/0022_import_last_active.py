"""Import Learners' optional last-active column: import_rows.last_active_on

Revision ID: 0022_import_last_active
Revises: 0021_seat_reclaim
Create Date: 2026-12-03 07:35:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_import_last_active'
down_revision = '0021_seat_reclaim'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_rows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_active_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('import_rows', schema=None) as batch_op:
        batch_op.drop_column('last_active_on')
