"""Banks with actions and distances, indexable signal lookups, the signal change feed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

media_signals and bank_entries are rebuilt (create, copy, drop, rename) rather than
altered: their unique constraints change and 0001 left them unnamed, which neither
SQLite's batch mode nor PostgreSQL can drop portably. `lookup` is backfilled with the
value: before this revision every stored value was a short digest.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DEFAULT_BANKS = [
    ("confirmed", "block", 31, "child_sexual_abuse",
     "media of cases a reviewer confirmed as violating"),
    ("ncmec", "block", 31, "child_sexual_abuse", "NCMEC hash sharing"),
    ("stopncii", "restrict", 31, "non_consensual_intimate_imagery",
     "StopNCII.org hashes submitted by the people depicted"),
]


def _advance_sequence(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")


def upgrade() -> None:
    banks = op.create_table(
        "banks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("pdq_distance", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(banks, [{"name": n, "action": a, "pdq_distance": d, "category": c,
                            "description": text, "created_at": now}
                           for n, a, d, c, text in DEFAULT_BANKS])
    op.create_table(
        "signal_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("op", sa.String(length=10), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "media_signals_next",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("media_id", "signal_type", "lookup"),
    )
    op.execute("INSERT INTO media_signals_next (id, media_id, signal_type, value, lookup, "
               "quality) SELECT id, media_id, signal_type, value, value, quality "
               "FROM media_signals")
    op.drop_table("media_signals")
    op.rename_table("media_signals_next", "media_signals")
    op.create_index("ix_media_signals_lookup", "media_signals", ["signal_type", "lookup"])
    _advance_sequence("media_signals")

    op.create_table(
        "bank_entries_next",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank", sa.String(length=100), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("external_ids", sa.JSON(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["bank"], ["banks.name"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bank", "signal_type", "lookup"),
    )
    op.execute("INSERT INTO bank_entries_next (id, bank, signal_type, value, lookup, case_id, "
               "source, external_ids, added_by, added_at, enabled) SELECT id, bank, "
               "signal_type, value, value, case_id, source, '[]', added_by, added_at, enabled "
               "FROM bank_entries")
    op.drop_table("bank_entries")
    op.rename_table("bank_entries_next", "bank_entries")
    op.create_index("ix_bank_entries_lookup", "bank_entries", ["signal_type", "lookup"])
    _advance_sequence("bank_entries")


def downgrade() -> None:
    raise NotImplementedError("0002 is not reversible: restore the database from a backup")
