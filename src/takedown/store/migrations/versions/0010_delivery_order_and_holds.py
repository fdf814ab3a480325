"""indexes for delivering actions in order per target, and finding a case's held files

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 17:30:00
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Delivery sends an action only once every earlier one for its target is delivered.
    op.create_index("ix_actions_target", "actions",
                    ["platform_id", "target_type", "target_id", "created_at"])
    # Intake asks whether a case's files are held in `under_review`.
    op.create_index("ix_bank_entries_case", "bank_entries", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_bank_entries_case", table_name="bank_entries")
    op.drop_index("ix_actions_target", table_name="actions")
