"""SQLAlchemy ORM of the tracking tables. Only ``*/store/`` modules import this.

The schema is created and changed only by the alembic migrations in
``trackflow/migrations``; a test compares these models with the migrations.
Timestamps are integer milliseconds since the epoch.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "ExperimentRow",
    "RunRow",
    "ParamRow",
    "MetricRow",
    "LatestMetricRow",
    "TagRow",
    "NoteRow",
    "ArtifactRow",
    "DatasetRow",
    "LineageEdgeRow",
    "LineageNodeRow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base shared by tracking and registry tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ExperimentRow(Base):
    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class RunRow(Base):
    """A run. A Prefect task run has at most one run (``uq_runs_task_run_id``) and a Prefect
    flow run at most one flow-kind run (``uq_runs_flow_run_id_flow``): partial unique
    indexes, which SQLite and PostgreSQL both enforce, so concurrent or repeated executions
    of one Prefect run find the same trackflow run."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_experiment_id_start_time", "experiment_id", "start_time"),
        Index(
            "uq_runs_task_run_id",
            "task_run_id",
            unique=True,
            sqlite_where=text("task_run_id IS NOT NULL"),
            postgresql_where=text("task_run_id IS NOT NULL"),
        ),
        Index(
            "uq_runs_flow_run_id_flow",
            "flow_run_id",
            unique=True,
            sqlite_where=text("kind = 'flow'"),
            postgresql_where=text("kind = 'flow'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id"))
    name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="manual")
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    parent_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    flow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    task_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prefect_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    source_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_dirty: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    entrypoint: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    user: Mapped[str | None] = mapped_column(String(256), nullable=True)
    host: Mapped[str | None] = mapped_column(String(256), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    python_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    package_versions: Mapped[str | None] = mapped_column(Text, nullable=True)


class ParamRow(Base):
    __tablename__ = "params"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MetricRow(Base):
    """One logged metric value. A row is unique on all it says (run, key, step, timestamp,
    value: ``uq_metrics_natural_key``; NaN, stored as NULL + ``is_nan``, which a unique index
    does not compare: ``uq_metrics_nan_key``), so a replayed batch adds nothing while two
    different values logged in the same millisecond are both kept."""

    __tablename__ = "metrics"
    __table_args__ = (
        Index("uq_metrics_natural_key", "run_id", "key", "step", "timestamp", "value", unique=True),
        Index(
            "uq_metrics_nan_key",
            "run_id",
            "key",
            "step",
            "timestamp",
            unique=True,
            sqlite_where=text("is_nan = true"),
            postgresql_where=text("is_nan = true"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(250))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(BigInteger, default=0)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class LatestMetricRow(Base):
    __tablename__ = "latest_metrics"
    __table_args__ = (Index("ix_latest_metrics_key_value", "key", "value"),)

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(BigInteger, default=0)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class TagRow(Base):
    __tablename__ = "tags"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class NoteRow(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("run_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1024))
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)


class DatasetRow(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(32))
    schema_json: Mapped[str] = mapped_column(Text)
    num_rows: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    num_columns: Mapped[int | None] = mapped_column(Integer, nullable=True)
    profile_json: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class LineageEdgeRow(Base):
    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint("source", "target", "relation"),
        Index("ix_lineage_edges_target", "target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(512))
    target: Mapped[str] = mapped_column(String(512))
    relation: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class LineageNodeRow(Base):
    """What a lineage node is when its id alone does not say it (a logged model package)."""

    __tablename__ = "lineage_nodes"

    id: Mapped[str] = mapped_column(String(512), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(256))
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    content_hash: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    attributes_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
