"""Full-text index over post messages: SQLite FTS5 or PostgreSQL tsvector/GIN, one interface.

A ``TextQuery`` (already parsed from Mattermost's search syntax by ``domain.search``) becomes a
boolean SQL condition on the ``posts`` table; filters (channels, users, dates) are plain SQL
added by ``store.repo.search``. Both backends stem English words (FTS5 ``porter`` tokenizer,
PostgreSQL ``english`` config, as Mattermost uses), so "running" finds "run" on either.

Keeping the index in sync needs no help from the posts code:

* PostgreSQL: an expression GIN index on ``to_tsvector('english', message)``; the planner uses
  it because ``matches`` builds exactly that expression (config inlined, not a bind parameter).
* SQLite: an FTS5 table ``posts_fts`` whose rowid is the INTEGER PRIMARY KEY of
  ``post_search_docs`` (post id ↔ stable integer; the implicit rowid of ``posts`` is not stable
  across VACUUM), maintained by triggers on ``posts``. SQLite drops a table's triggers when the
  table is rebuilt, so a future migration that rebuilds ``posts`` on SQLite (alembic batch mode)
  must call ``install_sqlite(op.get_bind())`` afterwards; it is idempotent and backfills.

These objects are created by migration 0004 with dialect-specific DDL and are deliberately not in
the shared SQLAlchemy ``metadata`` (an FTS5 virtual table cannot be expressed there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text, func, literal_column, select, text
from sqlalchemy.sql.elements import ColumnElement

from isthmus.store.schema.posts import posts

PG_TS_CONFIG = "english"
SQLITE_TOKENIZER = "porter unicode61 remove_diacritics 2"

# Query-only descriptions of the SQLite objects (not part of the shared metadata; see above).
_fts_meta = MetaData()
posts_fts = Table("posts_fts", _fts_meta, Column("rowid", Integer), Column("message", Text))
post_search_docs = Table("post_search_docs", _fts_meta, Column("rowid", Integer, primary_key=True),
                         Column("post_id", String(26)))


@dataclass(frozen=True)
class TextTerm:
    """A word (one token) or a phrase (several tokens in order). Tokens are lowercase ``[^\\W_]+``."""

    tokens: tuple[str, ...]
    prefix: bool = False  # the last token matches as a prefix (Mattermost's trailing ``*``)


@dataclass(frozen=True)
class TextQuery:
    terms: tuple[TextTerm, ...] = ()
    excluded: tuple[TextTerm, ...] = ()
    any_term: bool = False  # is_or_search: any positive term suffices

    def __bool__(self) -> bool:
        return bool(self.terms or self.excluded)


class SearchIndex(Protocol):
    name: str

    def matches(self, query: TextQuery) -> ColumnElement[bool]:
        """A condition on ``posts`` that is true for posts whose message satisfies ``query``."""


def _fts5_term(term: TextTerm) -> str:
    # Tokens are [^\W_]+ so they never contain quotes or FTS5 operators.
    return '"' + " ".join(term.tokens) + '"' + ("*" if term.prefix else "")


class SqliteFts5Index:
    name = "sqlite-fts5"

    @staticmethod
    def expression(terms: tuple[TextTerm, ...], joiner: str) -> str:
        return f" {joiner} ".join(_fts5_term(t) for t in terms)

    def _hits(self, expr: str) -> ColumnElement[bool]:
        docs = (select(post_search_docs.c.post_id)
                .join(posts_fts, posts_fts.c.rowid == post_search_docs.c.rowid)
                .where(literal_column("posts_fts").op("MATCH")(expr)))
        return posts.c.id.in_(docs)

    def matches(self, query: TextQuery) -> ColumnElement[bool]:
        excluded = self.expression(query.excluded, "OR")
        if not query.terms:
            return ~self._hits(excluded)
        positive = self.expression(query.terms, "OR" if query.any_term else "AND")
        expr = f"({positive}) NOT ({excluded})" if excluded else positive
        return self._hits(expr)


def _tsquery_term(term: TextTerm) -> str:
    body = " <-> ".join(term.tokens) + (":*" if term.prefix else "")
    return f"({body})"


class PostgresTsIndex:
    name = "postgres-tsvector"

    @staticmethod
    def tsquery(query: TextQuery) -> str:
        """The positive tsquery (``query.terms`` must not be empty)."""
        excluded = " | ".join(_tsquery_term(t) for t in query.excluded)
        positive = (" | " if query.any_term else " & ").join(_tsquery_term(t) for t in query.terms)
        return f"({positive}) & !({excluded})" if excluded else positive

    def matches(self, query: TextQuery) -> ColumnElement[bool]:
        cfg: ColumnElement[str] = literal_column(f"'{PG_TS_CONFIG}'::regconfig")
        vector = func.to_tsvector(cfg, posts.c.message)
        if not query.terms:
            # NOT (v @@ q) rather than v @@ !q: excluding only stop words (an empty tsquery, which
            # matches nothing) then removes nothing instead of everything, as on SQLite.
            excluded = " | ".join(_tsquery_term(t) for t in query.excluded)
            return ~vector.op("@@")(func.to_tsquery(cfg, excluded))
        return vector.op("@@")(func.to_tsquery(cfg, self.tsquery(query)))


def search_index_for(dialect: str) -> SearchIndex:
    if dialect == "sqlite":
        return SqliteFts5Index()
    if dialect == "postgresql":
        return PostgresTsIndex()
    raise ValueError(f"no full-text search for dialect {dialect!r}")


# --- DDL (used by migration 0004; idempotent) -------------------------------------------------

_SQLITE_DDL = [
    "CREATE TABLE IF NOT EXISTS post_search_docs (rowid INTEGER PRIMARY KEY, post_id VARCHAR(26) NOT NULL UNIQUE)",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS posts_fts USING fts5(message, tokenize='{SQLITE_TOKENIZER}')",
    # An outer statement's conflict clause overrides the ones inside a trigger (an upsert would turn
    # OR IGNORE into ABORT), so the docs row is added with NOT EXISTS, never with a conflict clause.
    """CREATE TRIGGER IF NOT EXISTS posts_search_ai AFTER INSERT ON posts BEGIN
        DELETE FROM posts_fts WHERE rowid = (SELECT rowid FROM post_search_docs WHERE post_id = new.id);
        INSERT INTO post_search_docs(post_id)
            SELECT new.id WHERE NOT EXISTS (SELECT 1 FROM post_search_docs WHERE post_id = new.id);
        INSERT INTO posts_fts(rowid, message)
            VALUES ((SELECT rowid FROM post_search_docs WHERE post_id = new.id), new.message);
    END""",
    """CREATE TRIGGER IF NOT EXISTS posts_search_au AFTER UPDATE OF message ON posts BEGIN
        DELETE FROM posts_fts WHERE rowid = (SELECT rowid FROM post_search_docs WHERE post_id = old.id);
        INSERT INTO post_search_docs(post_id)
            SELECT new.id WHERE NOT EXISTS (SELECT 1 FROM post_search_docs WHERE post_id = new.id);
        INSERT INTO posts_fts(rowid, message)
            VALUES ((SELECT rowid FROM post_search_docs WHERE post_id = new.id), new.message);
    END""",
    """CREATE TRIGGER IF NOT EXISTS posts_search_ad AFTER DELETE ON posts BEGIN
        DELETE FROM posts_fts WHERE rowid = (SELECT rowid FROM post_search_docs WHERE post_id = old.id);
        DELETE FROM post_search_docs WHERE post_id = old.id;
    END""",
    # Backfill posts written before the index (or while its triggers were missing).
    "INSERT OR IGNORE INTO post_search_docs(post_id) SELECT id FROM posts",
    """INSERT INTO posts_fts(rowid, message)
        SELECT d.rowid, p.message FROM posts p JOIN post_search_docs d ON d.post_id = p.id
        WHERE d.rowid NOT IN (SELECT rowid FROM posts_fts)""",
]

_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS posts_search_ai", "DROP TRIGGER IF EXISTS posts_search_au",
    "DROP TRIGGER IF EXISTS posts_search_ad", "DROP TABLE IF EXISTS posts_fts",
    "DROP TABLE IF EXISTS post_search_docs",
]

_PG_DDL = [f"CREATE INDEX IF NOT EXISTS ix_posts_message_fts ON posts "
           f"USING gin (to_tsvector('{PG_TS_CONFIG}'::regconfig, message))"]
_PG_DROP = ["DROP INDEX IF EXISTS ix_posts_message_fts"]


def install_sqlite(conn: Connection) -> None:
    for stmt in _SQLITE_DDL:
        conn.execute(text(stmt))


def install(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        install_sqlite(conn)
    elif conn.dialect.name == "postgresql":
        for stmt in _PG_DDL:
            conn.execute(text(stmt))
    else:
        raise ValueError(f"no full-text search for dialect {conn.dialect.name!r}")


def uninstall(conn: Connection) -> None:
    for stmt in _SQLITE_DROP if conn.dialect.name == "sqlite" else _PG_DROP:
        conn.execute(text(stmt))
