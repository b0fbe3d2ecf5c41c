"""model registry tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:41:36.615449
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('registered_models',
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_registered_models'))
    )
    op.create_table('deployments',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('model_name', sa.String(length=256), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('since', sa.BigInteger(), nullable=False),
    sa.Column('until', sa.BigInteger(), nullable=True),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.Column('details_json', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['model_name'], ['registered_models.name'], name=op.f('fk_deployments_model_name_registered_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments'))
    )
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.create_index('ix_deployments_model_name_version', ['model_name', 'version'], unique=False)

    op.create_table('model_aliases',
    sa.Column('model_name', sa.String(length=256), nullable=False),
    sa.Column('alias', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['model_name'], ['registered_models.name'], name=op.f('fk_model_aliases_model_name_registered_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('model_name', 'alias', name=op.f('pk_model_aliases'))
    )
    op.create_table('model_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('model_name', sa.String(length=256), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['model_name'], ['registered_models.name'], name=op.f('fk_model_versions_model_name_registered_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('model_name', 'version', name=op.f('uq_model_versions_model_name_version'))
    )
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.create_index('ix_model_versions_model_name_stage', ['model_name', 'stage'], unique=False)
        batch_op.create_index(batch_op.f('ix_model_versions_run_id'), ['run_id'], unique=False)

    op.create_table('registered_model_tags',
    sa.Column('model_name', sa.String(length=256), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['model_name'], ['registered_models.name'], name=op.f('fk_registered_model_tags_model_name_registered_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('model_name', 'key', name=op.f('pk_registered_model_tags'))
    )
    op.create_table('stage_transitions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('model_name', sa.String(length=256), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.String(length=32), nullable=True),
    sa.Column('to_stage', sa.String(length=32), nullable=False),
    sa.Column('user', sa.String(length=256), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.Column('details_json', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['model_name'], ['registered_models.name'], name=op.f('fk_stage_transitions_model_name_registered_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_transitions'))
    )
    with op.batch_alter_table('stage_transitions', schema=None) as batch_op:
        batch_op.create_index('ix_stage_transitions_model_name_id', ['model_name', 'id'], unique=False)

    op.create_table('model_version_tags',
    sa.Column('model_name', sa.String(length=256), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['model_name', 'version'], ['model_versions.model_name', 'model_versions.version'], name=op.f('fk_model_version_tags_model_name_model_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('model_name', 'version', 'key', name=op.f('pk_model_version_tags'))
    )


def downgrade() -> None:
    op.drop_table('model_version_tags')
    with op.batch_alter_table('stage_transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_transitions_model_name_id')

    op.drop_table('stage_transitions')
    op.drop_table('registered_model_tags')
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_versions_run_id'))
        batch_op.drop_index('ix_model_versions_model_name_stage')

    op.drop_table('model_versions')
    op.drop_table('model_aliases')
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_index('ix_deployments_model_name_version')

    op.drop_table('deployments')
    op.drop_table('registered_models')
