"""Schema versions of every installed package: discovery, checks, creation and upgrades.

Each package that owns tables ships an Alembic environment in its ``<package>/migrations``
folder and declares a :class:`MigrationSpec` under the entry point group ``fermi.db_migrations``.
Each package records its revision in its own version table (``alembic_version_<name>``), so the
packages upgrade independently as their versions do; specs are processed in dependency order.

A fresh database is made from the models and stamped at the newest revision (Alembic's
"create from scratch" recipe; a test checks that the migrations produce the same schema).

Every process checks the schema when it first opens the database (:func:`prepare_schema`). When
every package's recorded revision is the head read from its revision files (:func:`file_heads`:
their ``revision``/``down_revision`` literals, parsed without importing them) that check is a few
plain queries and Alembic is not imported; anything else (a schema to make, behind, ahead,
unversioned) takes the Alembic path and its messages.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, Table, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

ENTRY_POINT_GROUP = "fermi.db_migrations"


@dataclass(frozen=True)
class MigrationSpec:
    """What the schema tooling needs to know about one package's tables.

    Parameters
    ----------
    name
        Short name, e.g. ``"ingest"``; the version table is ``alembic_version_<name>``.
    distribution
        The distribution (pip name) that owns the tables, for messages.
    migrations
        Import name of the package's Alembic folder (holds ``env.py`` and ``versions/``).
    models
        Modules to import so the package's tables are registered on the shared ``Base``.
    table_prefixes
        Names of the package's tables start with one of these.
    depends
        Names of the specs whose tables must exist first.
    """

    name: str
    distribution: str
    migrations: str
    models: tuple[str, ...]
    table_prefixes: tuple[str, ...]
    depends: tuple[str, ...] = field(default=())

    @property
    def version_table(self) -> str:
        """Name of the package's Alembic version table."""
        return f"alembic_version_{self.name}"

    @property
    def script_location(self) -> Path:
        """Folder of the Alembic environment."""
        module = importlib.import_module(self.migrations)
        return Path(module.__file__).parent

    def owns(self, table_name: str) -> bool:
        """True if ``table_name`` belongs to this package."""
        return table_name.startswith(self.table_prefixes)

    def tables(self) -> list[Table]:
        """The package's tables as declared by its models (imported on the way)."""
        from fermi_core.schema import Base

        for module in self.models:
            importlib.import_module(module)
        return [t for name, t in Base.metadata.tables.items() if self.owns(name)]


def discover() -> list[MigrationSpec]:
    """Every installed package's :class:`MigrationSpec`, dependencies first.

    Raises
    ------
    RuntimeError
        Two specs share a name, or a spec depends on one that is not installed, or on itself.
    """
    specs: dict[str, MigrationSpec] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        spec = ep.load()
        if not isinstance(spec, MigrationSpec):
            raise RuntimeError(
                f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP}): not a MigrationSpec"
            )
        other = specs.get(spec.name)
        if other is not None and other != spec:
            raise RuntimeError(
                f"two packages declare the schema {spec.name!r}: {other.distribution} and {spec.distribution}"
            )
        specs[spec.name] = spec
    ordered: list[MigrationSpec] = []
    visiting: set[str] = set()

    def visit(spec: MigrationSpec) -> None:
        if spec in ordered:
            return
        if spec.name in visiting:
            raise RuntimeError(f"schema {spec.name!r} ({spec.distribution}): circular 'depends'")
        visiting.add(spec.name)
        for dep in spec.depends:
            if dep not in specs:
                raise RuntimeError(
                    f"schema {spec.name!r} ({spec.distribution}) depends on {dep!r}, which no installed "
                    "package declares"
                )
            visit(specs[dep])
        visiting.discard(spec.name)
        ordered.append(spec)

    for spec in sorted(specs.values(), key=lambda s: s.name):
        visit(spec)
    return ordered


def alembic_config(spec: MigrationSpec, connection: Connection | None = None) -> Config:
    """Alembic configuration of ``spec`` (optionally bound to an open connection)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(spec.script_location))
    cfg.attributes["spec"] = spec
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def script_directory(spec: MigrationSpec) -> ScriptDirectory:
    """The revisions of ``spec`` (parsed once per process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(spec))


def head(spec: MigrationSpec) -> str:
    """The newest revision of ``spec`` (a single head per package)."""
    heads = script_directory(spec).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"schema {spec.name!r}: {len(heads)} heads {heads}; merge them into one")
    return heads[0]


def base(spec: MigrationSpec) -> str:
    """The initial revision of ``spec`` (the schema as it was before migrations existed)."""
    bases = script_directory(spec).get_bases()
    if len(bases) != 1:
        raise RuntimeError(f"schema {spec.name!r}: {len(bases)} initial revisions {bases}")
    return bases[0]


def known(spec: MigrationSpec, revision: str) -> bool:
    """True if ``revision`` is one of the revisions of ``spec``."""
    from alembic.util import CommandError

    try:
        return script_directory(spec).get_revision(revision) is not None
    except CommandError:
        return False


#: files of a versions folder Alembic reads as revisions (its own rule, without the sourceless ones)
_REVISION_FILE_SKIP = ("__init__", ".#")


@cache
def file_heads(spec: MigrationSpec) -> tuple[str, ...] | None:
    """Head revisions of ``spec`` read from its revision files without Alembic (once per process).

    Each ``versions/*.py`` is parsed (not imported) for its module-level ``revision`` and
    ``down_revision`` literals; the heads are the revisions no other one names as its down
    revision. None when a file does not state them as literals (then only Alembic can tell).
    A test checks these heads against Alembic's for every installed package.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((spec.script_location / "versions").glob("*.py")):
        if path.name.startswith(_REVISION_FILE_SKIP):
            continue
        found: dict[str, object] = {}
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, SyntaxError, ValueError):
            return None
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) and node.value is not None else []  # fmt: skip
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                    try:
                        found[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        return None
        rev, down = found.get("revision"), found.get("down_revision")
        if not isinstance(rev, str) or "down_revision" not in found:
            return None
        down_revs = () if down is None else (down,) if isinstance(down, str) else down
        if not isinstance(down_revs, (tuple, list)) or not all(isinstance(d, str) for d in down_revs):
            return None
        revisions.add(rev)
        parents.update(down_revs)
    return tuple(sorted(revisions - parents)) or None


def _all_current(engine: Engine, specs: list[MigrationSpec], create: bool) -> bool:
    """True when every spec's recorded revision is its single file head (plain SQL, no Alembic, no lock).

    With ``create`` the tables of packages without migrations must exist too. False means "ask
    Alembic" (:func:`prepare_schema` then checks, makes or refuses as it always did).
    """
    from fermi_core.schema import Base

    heads = {spec.name: file_heads(spec) for spec in specs}
    if any(h is None or len(h) != 1 for h in heads.values()):
        return False
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        if create and any(t not in names for t in Base.metadata.tables if not any(s.owns(t) for s in specs)):
            return False
        for spec in specs:
            if spec.version_table not in names:
                return False
            rows = conn.execute(text(f"SELECT version_num FROM {spec.version_table}")).scalars().all()
            if list(rows) != list(heads[spec.name]):
                return False
    return True


def current(connection: Connection, spec: MigrationSpec) -> str | None:
    """Revision of ``spec`` recorded in the database (None: no version table or no row)."""
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(connection, opts={"version_table": spec.version_table})
    heads = ctx.get_current_heads()
    if len(heads) > 1:
        raise RuntimeError(f"schema {spec.name!r}: several revisions recorded {heads}")
    return heads[0] if heads else None


def _stamp(connection: Connection, spec: MigrationSpec, revision: str) -> None:
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(connection, opts={"version_table": spec.version_table})
    ctx.stamp(script_directory(spec), revision)


@dataclass(frozen=True)
class Status:
    """Where one package's schema stands in one database."""

    spec: MigrationSpec
    revision: str | None  # recorded in the database
    head: str  # newest known to the installed software
    has_tables: bool  # some of the package's tables exist

    @property
    def state(self) -> str:
        """``current``, ``behind``, ``ahead`` (unknown revision), ``missing`` or ``unversioned``."""
        if self.revision is None:
            return "unversioned" if self.has_tables else "missing"
        if self.revision == self.head:
            return "current"
        return "behind" if known(self.spec, self.revision) else "ahead"


def status(connection: Connection, specs: Iterable[MigrationSpec] | None = None) -> list[Status]:
    """The :class:`Status` of each spec (default: every installed one) in the database."""
    names = set(inspect(connection).get_table_names())
    out = []
    for spec in discover() if specs is None else specs:
        out.append(Status(spec, current(connection, spec), head(spec), any(spec.owns(n) for n in names)))
    return out


def _lock_schema(connection: Connection) -> None:
    # Several processes may start on an empty server database at once: one creates, the others
    # wait and then find the schema made (PostgreSQL DDL is transactional).
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(5115000)"))
    elif connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        # pysqlite would start the transaction only at the first write: take the write lock now
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _refusal(st: Status, url: str) -> str:
    dist = st.spec.distribution
    if st.state == "ahead":
        return (
            f"database {url}: the schema of {dist} is at revision {st.revision}, newer than this "
            f"software knows (its newest is {st.head}); install the {dist} version that wrote it, "
            "the database is left untouched"
        )
    if st.state == "behind":
        return (
            f"database {url}: the schema of {dist} is at revision {st.revision}, older than this "
            f"software (newest {st.head}); run 'fermi-core db upgrade' first"
        )
    return (
        f"database {url}: tables of {dist} exist but carry no schema revision ({st.spec.version_table} "
        "is missing); run 'fermi-core db upgrade' to record and upgrade them"
    )


def prepare_schema(engine: Engine, create: bool = True) -> None:
    """Check every package's schema revision; with ``create`` make missing schemas at head.

    Tables registered on the shared base by packages that ship no migrations are created too
    (``create_all``), as before migrations existed.

    Raises
    ------
    fermi_core.db.SchemaVersionError
        A package's schema is newer than the software knows, older, or unversioned.
    """
    from fermi_core.schema import Base, SchemaVersionError, safe_url

    specs = discover()
    if _all_current(engine, specs, create):
        return
    with engine.begin() as conn:
        _lock_schema(conn)
        for st in status(conn, specs):
            if st.state == "current":
                continue
            if st.state == "missing":
                if create:
                    Base.metadata.create_all(conn, tables=st.spec.tables())
                    _stamp(conn, st.spec, st.head)
                continue
            raise SchemaVersionError(_refusal(st, safe_url(engine.url)))
        if create:
            owned = [t for t in Base.metadata.sorted_tables if not any(s.owns(t.name) for s in specs)]
            Base.metadata.create_all(conn, tables=owned)


def upgrade(
    engine: Engine, revisions: dict[str, str] | None = None, echo=print
) -> list[tuple[str, str, str]]:
    """Apply the pending migrations of every installed package, dependencies first.

    ``revisions`` maps a spec name to a target revision (default: ``head`` for each). A package
    whose tables exist without a version table (made before migrations existed) is first stamped
    at its initial revision. Returns ``(name, from, to)`` for each package.

    Raises
    ------
    fermi_core.db.SchemaVersionError
        A package's recorded revision is newer than the software knows.
    """
    from alembic import command

    from fermi_core.schema import SchemaVersionError, safe_url

    revisions = revisions or {}
    done = []
    for spec in discover():
        target = revisions.get(spec.name, "head")
        with engine.begin() as conn:
            _lock_schema(conn)
            (st,) = status(conn, [spec])
            if st.state == "ahead":
                raise SchemaVersionError(_refusal(st, safe_url(engine.url)))
            before = st.revision or "-"
            if st.state == "unversioned":
                _stamp(conn, spec, base(spec))
                before = f"{base(spec)} (stamped: tables predate migrations)"
            command.upgrade(alembic_config(spec, conn), target)
            after = current(conn, spec)
        if echo is not None:
            echo(f"{spec.distribution:<16} {before!s:<14} -> {after}")
        done.append((spec.name, str(before), str(after)))
    return done


def check(engine: Engine) -> list[str]:
    """Differences between the models and the database schema (empty when they agree).

    Each package is compared on its own tables, with Alembic's autogenerate comparison.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from fermi_core.schema import Base

    problems = []
    with engine.connect() as conn:
        for spec in discover():
            spec.tables()
            ctx = MigrationContext.configure(
                conn,
                opts={
                    "version_table": spec.version_table,
                    "include_object": include_object(spec),
                    "compare_type": True,
                },
            )
            for diff in compare_metadata(ctx, Base.metadata):
                problems.append(f"{spec.distribution}: {diff}")
    return problems


def include_object(spec: MigrationSpec):
    """Alembic ``include_object`` hook keeping only ``spec``'s tables (and their parts)."""

    def _include(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "table":
            return spec.owns(name)
        table = getattr(obj, "table", None)
        return table is None or spec.owns(table.name)

    return _include


def run_env(spec: MigrationSpec) -> None:
    """Body of each package's ``env.py``: run its migrations on the configured connection."""
    from alembic import context
    from sqlalchemy import create_engine

    from fermi_core.schema import Base, normalize_url

    spec.tables()
    cfg = context.config
    connection = cfg.attributes.get("connection")
    options = {
        "target_metadata": Base.metadata,
        "version_table": spec.version_table,
        "include_object": include_object(spec),
        "render_as_batch": True,  # SQLite has no ALTER of constraints: batch mode copies the table
        "compare_type": True,
    }
    if context.is_offline_mode():
        context.configure(url=cfg.get_main_option("sqlalchemy.url"), literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    if connection is None:
        # the alembic command line: a plain engine, no schema check (it is what is being changed)
        engine = create_engine(normalize_url(cfg.get_main_option("sqlalchemy.url")))
        with engine.begin() as connection:
            context.configure(connection=connection, **options)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()
