"""run_deletions: soft-deleted runs (hidden from listings until restored or purged by gc)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('run_deletions',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('deleted_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_deletions_run_id_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_run_deletions'))
    )


def downgrade() -> None:
    op.drop_table('run_deletions')
