"""The gap finder's indexes are part of the fermi-ingest models themselves, as made by the migrations."""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import create_engine, inspect

#: the indexes of revisions ingest_0002 and ingest_0003: name -> (table, columns)
GAP_FINDER_INDEXES = {
    "ix_ingest_gap_apid_status": ("ingest_gap", ["apid", "status", "kind"]),
    "ix_ingest_apid_span_apid_met_stop": ("ingest_apid_span", ["apid", "met_stop"]),
    "ix_ingest_apid_span_apid_met_start": ("ingest_apid_span", ["apid", "met_start"]),
}

#: a fresh interpreter that imports nothing but the models and makes the tables from them
CREATE_FROM_MODELS = """
import sys
from sqlalchemy import create_engine
from fermi_core.db import Base
import fermi_ingest.models
assert "fermi_ingest.migrations" not in sys.modules, "the models imported the migrations"
engine = create_engine(sys.argv[1])
Base.metadata.create_all(engine)
engine.dispose()
"""


def _indexes(url: str, tables: set[str]) -> dict[str, tuple[str, list[str]]]:
    engine = create_engine(url)
    found = {
        ix["name"]: (table, ix["column_names"])
        for table in tables
        for ix in inspect(engine).get_indexes(table)
    }
    engine.dispose()
    return found


def test_tables_made_from_the_models_alone_have_the_gap_finder_indexes(tmp_path):
    url = f"sqlite:///{tmp_path / 'models.db'}"
    done = subprocess.run(
        [sys.executable, "-c", CREATE_FROM_MODELS, url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = _indexes(url, {"ingest_gap", "ingest_apid_span"})
    assert {name: found.get(name) for name in GAP_FINDER_INDEXES} == GAP_FINDER_INDEXES, json.dumps(found)
