#include "sqlitestore.h"

#include <QDir>
#include <QFileInfo>
#include <QSqlError>
#include <QVariant>

#include <algorithm>
#include <atomic>

namespace Runwatch {

namespace {

std::atomic<int> connectionCounter{0};

QString sqlError(const QSqlError &error)
{
    QString text = error.databaseText();
    if (text.isEmpty())
        text = error.text();
    return text.trimmed();
}

} // namespace

SqliteStore::~SqliteStore()
{
    m_insert.reset();
    m_readRun.reset();
    m_readAll.reset();
    m_readLifecycle.reset();
    m_readBefore.reset();
    m_readRunBefore.reset();
    m_findEid.reset();
    if (!m_connection.isEmpty()) {
        {
            QSqlDatabase db = QSqlDatabase::database(m_connection, false);
            if (db.isOpen()) {
                // Fold the WAL back into the database so that the file is whole on its own.
                QSqlQuery(db).exec(QStringLiteral("PRAGMA wal_checkpoint(TRUNCATE)"));
                db.close();
            }
        }
        QSqlDatabase::removeDatabase(m_connection);
    }
}

std::unique_ptr<SqliteStore> SqliteStore::open(const QString &dir, Sync sync, QString *error)
{
    std::unique_ptr<SqliteStore> store(new SqliteStore);
    if (!store->init(dir, sync, error))
        return nullptr;
    return store;
}

bool SqliteStore::init(const QString &dir, Sync sync, QString *error)
{
    const QDir data(dir);
    m_path = data.filePath(QStringLiteral("runwatch.db"));

    m_lock = std::make_unique<QLockFile>(data.filePath(QStringLiteral("runwatch.lock")));
    m_lock->setStaleLockTime(0); // a lock whose process is gone is stale, however young
    if (!m_lock->tryLock(0)) {
        qint64 pid = 0;
        QString host, app;
        m_lock->getLockInfo(&pid, &host, &app);
        if (m_lock->error() == QLockFile::LockFailedError)
            *error = QStringLiteral("data dir %1 is in use by another runwatch (pid %2); stop it or pick another --data-dir")
                         .arg(QDir::toNativeSeparators(dir))
                         .arg(pid);
        else
            *error = QStringLiteral("cannot lock data dir %1").arg(QDir::toNativeSeparators(dir));
        return false;
    }

    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE"))) {
        *error = QStringLiteral("the Qt SQLite driver (QSQLITE) is not installed");
        return false;
    }
    m_connection = QStringLiteral("runwatch-store-%1").arg(++connectionCounter);
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
    db.setDatabaseName(m_path);
    if (!db.open()) {
        *error = QStringLiteral("cannot open %1: %2").arg(m_path, sqlError(db.lastError()));
        return false;
    }
    QSqlQuery q(db);
    auto exec = [&](const QString &sql) {
        if (q.exec(sql))
            return true;
        *error = QStringLiteral("%1: %2").arg(m_path, sqlError(q.lastError()));
        return false;
    };

    // Is this our file? A foreign or damaged one is left alone, never overwritten.
    if (!q.exec(QStringLiteral("PRAGMA application_id"))) {
        *error = QStringLiteral("%1 is not a Runwatch database (%2); move it away or pick another --data-dir")
                     .arg(m_path, sqlError(q.lastError()));
        return false;
    }
    const int appId = q.next() ? q.value(0).toInt() : 0;
    int tables = 0;
    if (!q.exec(QStringLiteral("SELECT count(*) FROM sqlite_master WHERE type = 'table'")) || !q.next()) {
        *error = QStringLiteral("%1 is not a Runwatch database (%2); move it away or pick another --data-dir")
                     .arg(m_path, sqlError(q.lastError()));
        return false;
    }
    tables = q.value(0).toInt();
    if (appId != ApplicationId && (appId != 0 || tables > 0)) {
        *error = QStringLiteral("%1 belongs to another program (application id %2, %3 tables); move it away or pick "
                                "another --data-dir")
                     .arg(m_path)
                     .arg(appId)
                     .arg(tables);
        return false;
    }
    if (!exec(QStringLiteral("PRAGMA user_version")) || !q.next())
        return false;
    const int version = q.value(0).toInt();
    if (appId == ApplicationId && version > SchemaVersion) {
        *error = QStringLiteral("%1 was written by a newer Runwatch (schema %2, this one reads %3)")
                     .arg(m_path)
                     .arg(version)
                     .arg(SchemaVersion);
        return false;
    }

    if (!exec(QStringLiteral("PRAGMA journal_mode = WAL"))
        || !exec(sync == Sync::Full ? QStringLiteral("PRAGMA synchronous = FULL") : QStringLiteral("PRAGMA synchronous = NORMAL"))
        || !exec(QStringLiteral("PRAGMA foreign_keys = OFF")) || !exec(QStringLiteral("PRAGMA temp_store = MEMORY"))
        || !exec(QStringLiteral("PRAGMA cache_size = -65536"))) // 64 MiB page cache
        return false;
    if (appId == 0) {
        if (!exec(QStringLiteral("BEGIN"))
            || !exec(QStringLiteral("CREATE TABLE IF NOT EXISTS events ("
                                    " seq INTEGER PRIMARY KEY,"
                                    " run TEXT NOT NULL,"
                                    " type TEXT NOT NULL,"
                                    " lifecycle INTEGER NOT NULL,"
                                    " ts INTEGER NOT NULL,"
                                    " envelope BLOB NOT NULL)"))
            || !exec(QStringLiteral("CREATE INDEX IF NOT EXISTS events_by_run ON events (run, seq)"))
            || !exec(QStringLiteral("CREATE INDEX IF NOT EXISTS events_lifecycle ON events (seq) WHERE lifecycle = 1"))
            || !exec(QStringLiteral("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)"))
            || !exec(QStringLiteral("ALTER TABLE events ADD COLUMN eid TEXT"))
            || !exec(QStringLiteral("CREATE UNIQUE INDEX events_by_eid ON events (run, eid) WHERE eid IS NOT NULL"))
            || !exec(QStringLiteral("PRAGMA application_id = %1").arg(ApplicationId))
            || !exec(QStringLiteral("PRAGMA user_version = %1").arg(SchemaVersion)) || !exec(QStringLiteral("COMMIT")))
            return false;
    }

    if (appId == ApplicationId && version < 2) {
        // Schema 1 had no producer event ids.
        if (!exec(QStringLiteral("BEGIN")) || !exec(QStringLiteral("ALTER TABLE events ADD COLUMN eid TEXT"))
            || !exec(QStringLiteral("CREATE UNIQUE INDEX events_by_eid ON events (run, eid) WHERE eid IS NOT NULL"))
            || !exec(QStringLiteral("PRAGMA user_version = 2")) || !exec(QStringLiteral("COMMIT")))
            return false;
    }

    // Seq numbers continue above every one ever handed out, also of runs deleted since.
    if (!exec(QStringLiteral("SELECT (SELECT coalesce(max(seq), 0) FROM events),"
                             " (SELECT coalesce(max(value), 0) FROM meta WHERE key = 'seq_floor'),"
                             " (SELECT count(*) FROM events), (SELECT coalesce(sum(length(envelope)), 0) FROM events)"))
        || !q.next())
        return false;
    m_lastSeq = qMax(q.value(0).toLongLong(), q.value(1).toLongLong());
    m_events = q.value(2).toLongLong();
    m_bytes = q.value(3).toLongLong();

    m_insert = std::make_unique<QSqlQuery>(db);
    m_readRun = std::make_unique<QSqlQuery>(db);
    m_readAll = std::make_unique<QSqlQuery>(db);
    m_readLifecycle = std::make_unique<QSqlQuery>(db);
    m_readBefore = std::make_unique<QSqlQuery>(db);
    m_readRunBefore = std::make_unique<QSqlQuery>(db);
    m_findEid = std::make_unique<QSqlQuery>(db);
    for (QSqlQuery *query : {m_readRun.get(), m_readAll.get(), m_readLifecycle.get(), m_readBefore.get(), m_readRunBefore.get()})
        query->setForwardOnly(true);
    if (!m_insert->prepare(QStringLiteral("INSERT INTO events (seq, run, type, lifecycle, ts, envelope, eid) VALUES (?, ?, ?, ?, ?, ?, ?)"))
        || !m_findEid->prepare(QStringLiteral("SELECT seq FROM events WHERE run = ? AND eid = ?"))
        || !m_readRun->prepare(QStringLiteral("SELECT seq, envelope FROM events WHERE run = ? AND seq > ? ORDER BY seq LIMIT ?"))
        || !m_readAll->prepare(QStringLiteral("SELECT seq, envelope FROM events WHERE seq > ? ORDER BY seq LIMIT ?"))
        || !m_readLifecycle->prepare(
            QStringLiteral("SELECT seq, envelope FROM events WHERE lifecycle = 1 AND seq > ? ORDER BY seq LIMIT ?"))
        || !m_readBefore->prepare(QStringLiteral("SELECT seq, envelope FROM events WHERE seq < ? ORDER BY seq DESC LIMIT ?"))
        || !m_readRunBefore->prepare(
            QStringLiteral("SELECT seq, envelope FROM events WHERE run = ? AND seq < ? ORDER BY seq DESC LIMIT ?"))) {
        *error = QStringLiteral("%1: %2").arg(m_path, sqlError(m_insert->lastError()));
        return false;
    }
    return true;
}

bool SqliteStore::append(const EventBatch &events, QString *error, bool *knownEid)
{
    if (events.isEmpty())
        return true;
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    if (!db.transaction()) {
        if (error)
            *error = sqlError(db.lastError());
        return false;
    }
    qint64 bytes = 0;
    for (const Event &event : events) {
        m_insert->bindValue(0, event.seq);
        m_insert->bindValue(1, event.run);
        m_insert->bindValue(2, event.type);
        m_insert->bindValue(3, isLifecycle(event.kind) ? 1 : 0);
        m_insert->bindValue(4, event.tsMs);
        m_insert->bindValue(5, event.envelope);
        m_insert->bindValue(6, event.eid.isEmpty() ? QVariant() : QVariant(event.eid));
        if (!m_insert->exec()) {
            // The unique index on (run, eid) refuses a producer id that is stored already.
            const QString code = m_insert->lastError().nativeErrorCode();
            if (knownEid && !event.eid.isEmpty()
                && (code == QLatin1String("2067") || code == QLatin1String("19"))) // SQLITE_CONSTRAINT(_UNIQUE)
                *knownEid = true;
            if (error)
                *error = sqlError(m_insert->lastError());
            db.rollback();
            return false;
        }
        bytes += event.envelope.size();
    }
    if (!db.commit()) {
        if (error)
            *error = sqlError(db.lastError());
        db.rollback();
        return false;
    }
    m_lastSeq = qMax(m_lastSeq, events.last().seq);
    m_events += events.size();
    m_bytes += bytes;
    return true;
}

QVector<StoredEnvelope> SqliteStore::read(QSqlQuery &query, int limit, qint64 maxBytes) const
{
    QVector<StoredEnvelope> out;
    if (!query.exec())
        return out;
    qint64 bytes = 0;
    while (out.size() < limit && query.next()) {
        StoredEnvelope stored{query.value(0).toLongLong(), query.value(1).toByteArray()};
        if (!out.isEmpty() && bytes + stored.json.size() > maxBytes)
            break;
        bytes += stored.json.size();
        out.append(std::move(stored));
    }
    query.finish();
    return out;
}

QVector<StoredEnvelope> SqliteStore::readRun(const QString &run, qint64 since, int limit, qint64 maxBytes) const
{
    m_readRun->bindValue(0, run);
    m_readRun->bindValue(1, since);
    m_readRun->bindValue(2, limit);
    return read(*m_readRun, limit, maxBytes);
}

QVector<StoredEnvelope> SqliteStore::readAll(qint64 since, int limit, qint64 maxBytes) const
{
    m_readAll->bindValue(0, since);
    m_readAll->bindValue(1, limit);
    return read(*m_readAll, limit, maxBytes);
}

QVector<StoredEnvelope> SqliteStore::readLifecycle(qint64 since, int limit, qint64 maxBytes) const
{
    m_readLifecycle->bindValue(0, since);
    m_readLifecycle->bindValue(1, limit);
    return read(*m_readLifecycle, limit, maxBytes);
}

QVector<StoredEnvelope> SqliteStore::readBefore(const QString &run, qint64 before, int limit) const
{
    QSqlQuery &query = run.isEmpty() ? *m_readBefore : *m_readRunBefore;
    int i = 0;
    if (!run.isEmpty())
        query.bindValue(i++, run);
    query.bindValue(i++, before);
    query.bindValue(i, limit);
    QVector<StoredEnvelope> out = read(query, limit, qint64(1) << 40);
    std::reverse(out.begin(), out.end());
    return out;
}

qint64 SqliteStore::findEid(const QString &run, const QString &eid) const
{
    m_findEid->bindValue(0, run);
    m_findEid->bindValue(1, eid);
    qint64 seq = 0;
    if (m_findEid->exec() && m_findEid->next())
        seq = m_findEid->value(0).toLongLong();
    m_findEid->finish();
    return seq;
}

bool SqliteStore::saveSnapshot(qint64 seq, const QByteArray &blob)
{
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    QSqlQuery q(db);
    if (!db.transaction())
        return false;
    q.prepare(QStringLiteral("INSERT OR REPLACE INTO meta (key, value) VALUES ('snapshot', ?), ('snapshot_seq', ?)"));
    q.addBindValue(blob);
    q.addBindValue(seq);
    if (!q.exec() || !db.commit()) {
        db.rollback();
        return false;
    }
    return true;
}

QByteArray SqliteStore::loadSnapshot(qint64 *seq) const
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(QStringLiteral("SELECT (SELECT value FROM meta WHERE key = 'snapshot'), (SELECT value FROM meta WHERE key = 'snapshot_seq')"))
        || !q.next() || q.value(0).isNull())
        return {};
    *seq = q.value(1).toLongLong();
    return q.value(0).toByteArray();
}

void SqliteStore::dropSnapshot()
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.exec(QStringLiteral("DELETE FROM meta WHERE key IN ('snapshot', 'snapshot_seq')"));
}

bool SqliteStore::removeRun(const QString &run)
{
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    QSqlQuery q(db);
    if (!db.transaction())
        return false;
    // Remember the highest seq, in case the run held it: seqs are never handed out twice.
    q.prepare(QStringLiteral("INSERT OR REPLACE INTO meta (key, value) VALUES ('seq_floor', ?)"));
    q.addBindValue(m_lastSeq);
    bool ok = q.exec();
    q.prepare(QStringLiteral("SELECT count(*), coalesce(sum(length(envelope)), 0) FROM events WHERE run = ?"));
    q.addBindValue(run);
    ok = ok && q.exec() && q.next();
    const qint64 count = ok ? q.value(0).toLongLong() : 0;
    const qint64 bytes = ok ? q.value(1).toLongLong() : 0;
    q.finish();
    q.prepare(QStringLiteral("DELETE FROM events WHERE run = ?"));
    q.addBindValue(run);
    ok = ok && q.exec();
    // A snapshot taken before still holds the run.
    ok = ok && q.exec(QStringLiteral("DELETE FROM meta WHERE key IN ('snapshot', 'snapshot_seq')"));
    if (!ok || !db.commit()) {
        db.rollback();
        return false;
    }
    m_events -= count;
    m_bytes -= bytes;
    return count > 0;
}

} // namespace Runwatch
