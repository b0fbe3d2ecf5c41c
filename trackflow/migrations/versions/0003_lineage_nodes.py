"""lineage nodes: one node per logged model package

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 03:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lineage_nodes',
    sa.Column('id', sa.String(length=512), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=256), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.Column('content_hash', sa.String(length=128), nullable=True),
    sa.Column('attributes_json', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lineage_nodes'))
    )
    with op.batch_alter_table('lineage_nodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lineage_nodes_content_hash'), ['content_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_lineage_nodes_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lineage_nodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lineage_nodes_run_id'))
        batch_op.drop_index(batch_op.f('ix_lineage_nodes_content_hash'))
    op.drop_table('lineage_nodes')
