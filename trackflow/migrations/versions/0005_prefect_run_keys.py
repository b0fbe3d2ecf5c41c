"""runs keyed by Prefect ids (one run per task run, one flow-kind run per flow run), metric
rows unique on their natural key, and the process id of a run

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 05:50:00.000000

Existing duplicates are merged first (a Dask worker killed mid-flow made a second run for a
recomputed task run): per Prefect id the earliest run (start time, then id) is kept; it takes
the children of its duplicates that it has no row of its own for (params and tags per key,
artifacts per path, metric values per key and step; its latest values are then computed
again from that history), all their notes, their nested runs and lineage, their final status
when it was left RUNNING, and their attempts (attempts count executions). Metric rows repeated exactly (same run, key, step, timestamp,
value or both NaN) are kept once. Written in SQL that SQLite and PostgreSQL both run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_DUPS = "SELECT dup_id FROM tf_run_merge"
_KEEP_OF = "(SELECT m.keep_id FROM tf_run_merge m WHERE m.dup_id = {table}.{column})"

# child table -> the columns (besides run_id) a kept run may hold only one row for
_KEYED_CHILDREN: dict[str, tuple[str, ...]] = {
    "params": ("key",),
    "tags": ("key",),
    "artifacts": ("path",),
    "metrics": ("key", "step"),
}


def _same(alias: str, table: str, columns: tuple[str, ...]) -> str:
    return " AND ".join(f"{alias}.{c} = {table}.{c}" for c in columns)


def _collect_duplicates() -> None:
    op.execute("CREATE TABLE tf_run_merge (dup_id VARCHAR(32) PRIMARY KEY, keep_id VARCHAR(32) NOT NULL)")
    op.execute(
        "INSERT INTO tf_run_merge (dup_id, keep_id) "
        "SELECT r.id, (SELECT k.id FROM runs k WHERE k.task_run_id = r.task_run_id "
        "ORDER BY k.start_time, k.id LIMIT 1) FROM runs r WHERE r.task_run_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO tf_run_merge (dup_id, keep_id) "
        "SELECT r.id, (SELECT k.id FROM runs k WHERE k.kind = 'flow' AND k.flow_run_id = r.flow_run_id "
        "ORDER BY k.start_time, k.id LIMIT 1) FROM runs r "
        f"WHERE r.kind = 'flow' AND r.flow_run_id IS NOT NULL AND r.id NOT IN ({_DUPS})"
    )
    op.execute("DELETE FROM tf_run_merge WHERE dup_id = keep_id")


def _merge_run_rows() -> None:
    """The kept run takes a duplicate's final state when it was left RUNNING, and all attempts."""
    final = (
        "(SELECT d.{column} FROM runs d JOIN tf_run_merge m ON m.dup_id = d.id "
        "WHERE m.keep_id = runs.id AND d.status <> 'RUNNING' ORDER BY COALESCE(d.end_time, 0) DESC, d.id LIMIT 1)"
    )
    op.execute(
        f"UPDATE runs SET status = {final.format(column='status')}, end_time = {final.format(column='end_time')}, "
        f"error = {final.format(column='error')} WHERE status = 'RUNNING' AND id IN "
        "(SELECT m.keep_id FROM tf_run_merge m JOIN runs d ON d.id = m.dup_id WHERE d.status <> 'RUNNING')"
    )
    op.execute(
        "UPDATE runs SET attempts = attempts + (SELECT COALESCE(SUM(d.attempts), 0) FROM runs d "
        "JOIN tf_run_merge m ON m.dup_id = d.id WHERE m.keep_id = runs.id) "
        "WHERE id IN (SELECT keep_id FROM tf_run_merge)"
    )


def _move_children() -> None:
    for table, columns in _KEYED_CHILDREN.items():
        # a row the kept run (or an earlier duplicate) holds already is dropped; the rest moves
        op.execute(
            f"DELETE FROM {table} WHERE run_id IN ({_DUPS}) AND EXISTS (SELECT 1 FROM {table} o "
            f"JOIN tf_run_merge m ON m.keep_id = o.run_id WHERE m.dup_id = {table}.run_id AND "
            f"{_same('o', table, columns)})"
        )
        op.execute(
            f"DELETE FROM {table} WHERE run_id IN ({_DUPS}) AND EXISTS (SELECT 1 FROM {table} o "
            "JOIN tf_run_merge mo ON mo.dup_id = o.run_id JOIN tf_run_merge m ON m.keep_id = mo.keep_id "
            f"WHERE m.dup_id = {table}.run_id AND o.run_id < {table}.run_id AND {_same('o', table, columns)})"
        )
    for table, column in (
        *((t, "run_id") for t in (*_KEYED_CHILDREN, "notes", "lineage_nodes", "model_versions")),
        ("runs", "parent_run_id"),
        ("lineage_edges", "run_id"),
    ):
        op.execute(
            f"UPDATE {table} SET {column} = {_KEEP_OF.format(table=table, column=column)} "
            f"WHERE {column} IN ({_DUPS})"
        )
    _recompute_latest_metrics()
    for end, other in (("source", "target"), ("target", "source")):
        renamed = f"(SELECT 'run:' || m.keep_id FROM tf_run_merge m WHERE 'run:' || m.dup_id = lineage_edges.{end})"
        op.execute(
            f"DELETE FROM lineage_edges WHERE {end} IN (SELECT 'run:' || dup_id FROM tf_run_merge) AND EXISTS "
            f"(SELECT 1 FROM lineage_edges o WHERE o.{end} = {renamed} AND o.{other} = lineage_edges.{other} "
            "AND o.relation = lineage_edges.relation)"
        )
        op.execute(
            f"UPDATE lineage_edges SET {end} = {renamed} WHERE {end} IN (SELECT 'run:' || dup_id FROM tf_run_merge)"
        )
    op.execute(f"DELETE FROM runs WHERE id IN ({_DUPS})")
    op.execute("DROP TABLE tf_run_merge")


def _recompute_latest_metrics() -> None:
    """The latest value per key of each kept run, from its merged history (highest step, then
    newest timestamp, then last logged)."""
    op.execute(f"DELETE FROM latest_metrics WHERE run_id IN ({_DUPS}) OR run_id IN (SELECT keep_id FROM tf_run_merge)")
    op.execute(
        "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) "
        "SELECT m.run_id, m.key, m.value, m.is_nan, m.step, m.timestamp FROM metrics m "
        "WHERE m.run_id IN (SELECT keep_id FROM tf_run_merge) AND NOT EXISTS (SELECT 1 FROM metrics o "
        "WHERE o.run_id = m.run_id AND o.key = m.key AND (o.step > m.step OR (o.step = m.step AND "
        "(o.timestamp > m.timestamp OR (o.timestamp = m.timestamp AND o.id > m.id)))))"
    )


def _deduplicate_metric_values() -> None:
    op.execute(
        "DELETE FROM metrics WHERE EXISTS (SELECT 1 FROM metrics o WHERE o.run_id = metrics.run_id "
        "AND o.key = metrics.key AND o.step = metrics.step AND o.timestamp = metrics.timestamp "
        "AND (o.value = metrics.value OR (o.is_nan = true AND metrics.is_nan = true)) AND o.id < metrics.id)"
    )


def upgrade() -> None:
    op.add_column('runs', sa.Column('pid', sa.Integer(), nullable=True))
    _collect_duplicates()
    _merge_run_rows()
    _move_children()
    _deduplicate_metric_values()
    op.drop_index('ix_runs_task_run_id', table_name='runs')
    op.create_index(
        'uq_runs_task_run_id', 'runs', ['task_run_id'], unique=True,
        sqlite_where=sa.text('task_run_id IS NOT NULL'), postgresql_where=sa.text('task_run_id IS NOT NULL'),
    )  # fmt: skip
    op.create_index(
        'uq_runs_flow_run_id_flow', 'runs', ['flow_run_id'], unique=True,
        sqlite_where=sa.text("kind = 'flow'"), postgresql_where=sa.text("kind = 'flow'"),
    )  # fmt: skip
    op.drop_index('ix_metrics_run_id_key_step', table_name='metrics')
    op.create_index('uq_metrics_natural_key', 'metrics', ['run_id', 'key', 'step', 'timestamp', 'value'], unique=True)
    op.create_index(
        'uq_metrics_nan_key', 'metrics', ['run_id', 'key', 'step', 'timestamp'], unique=True,
        sqlite_where=sa.text('is_nan = true'), postgresql_where=sa.text('is_nan = true'),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index('uq_metrics_nan_key', table_name='metrics')
    op.drop_index('uq_metrics_natural_key', table_name='metrics')
    op.create_index('ix_metrics_run_id_key_step', 'metrics', ['run_id', 'key', 'step'], unique=False)
    op.drop_index('uq_runs_flow_run_id_flow', table_name='runs')
    op.drop_index('uq_runs_task_run_id', table_name='runs')
    op.create_index('ix_runs_task_run_id', 'runs', ['task_run_id'], unique=False)
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_column('pid')
