"""CyberTipline reports, account records the platforms send, the evidence vault

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 06:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_records',
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.String(length=200), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], ),
    sa.PrimaryKeyConstraint('platform_id', 'author_id')
    )
    op.create_table('evidence_sets',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('preserved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retain_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hold', sa.JSON(), nullable=True),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('case_id')
    )
    with op.batch_alter_table('evidence_sets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_sets_retain_until'), ['retain_until'],
                              unique=False)

    op.create_table('tipline_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('incident_type', sa.String(length=100), nullable=False),
    sa.Column('annotations', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('escalate_reason', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accounts_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('auto_submit', sa.Boolean(), nullable=False),
    sa.Column('escalations', sa.Integer(), nullable=False),
    sa.Column('next_escalation_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ncmec_report_id', sa.BigInteger(), nullable=True),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('xml', sa.Text(), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('submitted_by', sa.String(length=200), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retract_reason', sa.Text(), nullable=True),
    sa.Column('retracted_by', sa.String(length=200), nullable=True),
    sa.Column('retracted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overturned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['platform_id'], ['platforms.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id')
    )
    with op.batch_alter_table('tipline_reports', schema=None) as batch_op:
        batch_op.create_index('ix_tipline_reports_due', ['stage', 'next_attempt_at'], unique=False)

    op.create_table('evidence_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('md5', sa.String(length=32), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['evidence_sets.case_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_items_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('platforms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tipline_contact', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('platforms', schema=None) as batch_op:
        batch_op.drop_column('tipline_contact')

    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_items_case_id'))

    op.drop_table('evidence_items')
    with op.batch_alter_table('tipline_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_tipline_reports_due')

    op.drop_table('tipline_reports')
    with op.batch_alter_table('evidence_sets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_sets_retain_until'))

    op.drop_table('evidence_sets')
    op.drop_table('account_records')
