"""selection members without a foreign key to their selection

Revision ID: 0007_selection_members_unkeyed
Revises: 0006_list_indexes
Create Date: 2026-11-26 09:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_selection_members_unkeyed'
down_revision = '0006_list_indexes'
branch_labels = None
depends_on = None


def upgrade():
    # Staging writes 50,000 members in one INSERT … SELECT right after flushing their
    # selection; PostgreSQL checked the key once per row (two thirds of staging).
    with op.batch_alter_table('selection_members', schema=None) as batch_op:
        batch_op.drop_constraint('fk_selection_members_selection', type_='foreignkey')


def downgrade():
    with op.batch_alter_table('selection_members', schema=None) as batch_op:
        batch_op.create_foreign_key(
            'fk_selection_members_selection', 'selections', ['selection_id'], ['id'],
            ondelete='CASCADE',
        )
