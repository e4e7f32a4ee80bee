"""import_rows: no foreign key to import_batches

The review writes a file's rows in one INSERT … SELECT for the batch it has just
read; PostgreSQL checked the key row by row (a trigger per row: 240 ms of a
100,000-row review's 470 ms statement), SQLite looked the batch up per row. The rows
of a batch are deleted with it by the services that delete batches (a company's
deletion, the upkeep of stale uploads), as the key's cascade did.

Revision ID: 0032_import_rows_no_batch_fk
Revises: 0031_reminder_checks_quiet_until
Create Date: 2026-12-06 23:00:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0032_import_rows_no_batch_fk"
down_revision = "0031_reminder_checks_quiet_until"
branch_labels = None
depends_on = None


def upgrade():
    # Rows whose batch is gone could only be left by a deletion outside the
    # services; none are kept.
    op.execute("DELETE FROM import_rows WHERE batch_id NOT IN (SELECT id FROM import_batches)")
    with op.batch_alter_table("import_rows", schema=None) as batch_op:
        batch_op.drop_constraint("fk_import_rows_batch_id", type_="foreignkey")


def downgrade():
    with op.batch_alter_table("import_rows", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_import_rows_batch_id",
            "import_batches",
            ["batch_id"],
            ["id"],
            ondelete="CASCADE",
        )
