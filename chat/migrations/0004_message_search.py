"""Full-text search over message bodies, with each database's own index.

SQLite: an FTS5 table over chat_message (external content, kept by triggers).
PostgreSQL: a GIN index on the same ``to_tsvector('simple', body)`` expression that
``django.contrib.postgres.search.SearchVector("body", config="simple")`` queries.
chat.selectors.message_search reads either. The 'simple' configuration (no stemming)
matches words in any language alike, as SQLite's unicode61 tokenizer does.
"""

from django.db import migrations

SQLITE_UP = [
    "CREATE VIRTUAL TABLE chat_message_fts USING fts5("
    "body, content='chat_message', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "INSERT INTO chat_message_fts(rowid, body) SELECT id, body FROM chat_message",
    "CREATE TRIGGER chat_message_fts_insert AFTER INSERT ON chat_message BEGIN "
    "INSERT INTO chat_message_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER chat_message_fts_delete AFTER DELETE ON chat_message BEGIN "
    "INSERT INTO chat_message_fts(chat_message_fts, rowid, body) "
    "VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER chat_message_fts_update AFTER UPDATE OF body ON chat_message BEGIN "
    "INSERT INTO chat_message_fts(chat_message_fts, rowid, body) "
    "VALUES ('delete', old.id, old.body); "
    "INSERT INTO chat_message_fts(rowid, body) VALUES (new.id, new.body); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS chat_message_fts_insert",
    "DROP TRIGGER IF EXISTS chat_message_fts_delete",
    "DROP TRIGGER IF EXISTS chat_message_fts_update",
    "DROP TABLE IF EXISTS chat_message_fts",
]
POSTGRES_INDEX = "chat_message_body_search"


def _postgres_index(apps):
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector

    return GinIndex(SearchVector("body", config="simple"), name=POSTGRES_INDEX)


def create_search_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for sql in SQLITE_UP:
            schema_editor.execute(sql)
    elif vendor == "postgresql":
        schema_editor.add_index(apps.get_model("chat", "Message"), _postgres_index(apps))


def drop_search_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for sql in SQLITE_DOWN:
            schema_editor.execute(sql)
    elif vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("chat", "Message"), _postgres_index(apps))


class Migration(migrations.Migration):
    dependencies = [("chat", "0003_history_reads_edits_reactions")]
    operations = [migrations.RunPython(create_search_index, drop_search_index)]
