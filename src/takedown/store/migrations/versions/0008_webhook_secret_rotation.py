"""webhook secret rotation: platforms keep rotated-out secrets until their overlap ends

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("platforms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_webhook_secrets", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("platforms", schema=None) as batch_op:
        batch_op.drop_column("previous_webhook_secrets")
