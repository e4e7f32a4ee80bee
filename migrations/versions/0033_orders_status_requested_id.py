"""orders: the status index ends with the key, in the lists' order

An Orders section (Requested Orders, Assigned, …) lists one status newest first,
`requested_at DESC, id DESC`. Without the key in the index PostgreSQL read every
order of the status, joined the viewer's subtree as a hash and sorted them to keep
25 (1.3 ms for 666 requested orders at MSP scale); with it, it walks the index
backwards and probes the subtree per row until the page is full (0.2-0.3 ms).
SQLite's indexes already end with the rowid.

Revision ID: 0033_orders_status_requested_id
Revises: 0032_import_rows_no_batch_fk
Create Date: 2026-12-07 18:20:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0033_orders_status_requested_id"
down_revision = "0032_import_rows_no_batch_fk"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_requested_at")
        batch_op.create_index(
            "ix_orders_status_requested_at", ["status", "requested_at", "id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_requested_at")
        batch_op.create_index(
            "ix_orders_status_requested_at", ["status", "requested_at"], unique=False
        )
