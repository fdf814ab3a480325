"""reports keep a TAKE IT DOWN Act request's signature and good-faith statement

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 07:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("good_faith_statement", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("good_faith_statement")
        batch_op.drop_column("signature")
