"""import_rows: drop the (batch_id, email) index

The review finds duplicates and learners in its temporary staging table, so nothing
looks import_rows up by address any more; the index only slowed the one INSERT that
writes a reviewed file.

Revision ID: 0008_import_rows_no_email_index
Revises: 0007_selection_members_unkeyed
Create Date: 2026-11-26 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008_import_rows_no_email_index'
down_revision = '0007_selection_members_unkeyed'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_rows', schema=None) as batch_op:
        batch_op.drop_index('ix_import_rows_batch_email')


def downgrade():
    with op.batch_alter_table('import_rows', schema=None) as batch_op:
        batch_op.create_index('ix_import_rows_batch_email', ['batch_id', 'email'], unique=False)
