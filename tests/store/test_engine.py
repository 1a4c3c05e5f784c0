"""store.engine: the migration heads read from the files are Alembic's, and a database at
head is recognised without running Alembic."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from alembic.config import Config
from alembic.script import ScriptDirectory

from store import engine as store_engine
from store.engine import MIGRATIONS, at_head, head_revisions, make_engine, upgrade


def test_head_revisions_are_alembics() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revisions() == frozenset(ScriptDirectory.from_config(config).get_heads())


def test_a_database_at_head_is_not_migrated_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'siji.db'}")
    assert not at_head(engine)  # no alembic_version table yet
    upgrade(engine)
    assert at_head(engine)
    with mock.patch.object(store_engine, "migrate") as migrate:
        upgrade(engine)
    migrate.assert_not_called()
    engine.dispose()
