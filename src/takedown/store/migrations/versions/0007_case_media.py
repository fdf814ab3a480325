"""case media: the files a case is about, and reference signals of reported files

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("references_at", sa.DateTime(timezone=True),
                                      nullable=True))
    op.create_table(
        "case_media",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("copy_of", sa.Integer(), nullable=True),
        sa.Column("distance", sa.Integer(), nullable=True),
        sa.Column("bank", sa.String(length=100), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["copy_of"], ["media.id"]),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"]),
        sa.PrimaryKeyConstraint("case_id", "media_id"),
    )
    op.create_index(op.f("ix_case_media_media_id"), "case_media", ["media_id"], unique=False)
    op.create_table(
        "media_references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_media_references_media_id"), "media_references", ["media_id"],
                    unique=False)
    # Cases opened before: each is about the only file of each post its reports show (a
    # repost shows its origin) — what intake now records — so that their decisions bank
    # and remove it. (Their case_content also held the posts of copies; not those.)
    op.execute(sa.text("""
        INSERT INTO case_media (case_id, media_id, via, added_at)
        WITH RECURSIVE shown(case_id, content_id) AS (
            SELECT r.case_id, rc.content_id
            FROM report_content rc JOIN reports r ON r.id = rc.report_id
            UNION
            SELECT shown.case_id, c.parent_id
            FROM shown JOIN content c ON c.id = shown.content_id
            WHERE c.parent_kind = 'repost' AND c.parent_id IS NOT NULL
        )
        SELECT DISTINCT shown.case_id, cm.media_id, 'reported', CURRENT_TIMESTAMP
        FROM shown
        JOIN content c ON c.id = shown.content_id
        JOIN content_media cm ON cm.content_id = shown.content_id
        WHERE (c.parent_id IS NULL OR c.parent_kind <> 'repost')
          AND (SELECT count(*) FROM content_media x WHERE x.content_id = c.id) = 1
    """))


def downgrade() -> None:
    op.drop_index(op.f("ix_media_references_media_id"), table_name="media_references")
    op.drop_table("media_references")
    op.drop_index(op.f("ix_case_media_media_id"), table_name="case_media")
    op.drop_table("case_media")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_column("references_at")
