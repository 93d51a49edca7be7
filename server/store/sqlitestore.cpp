#include "sqlitestore.h"

#include <QDebug>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSqlError>
#include <QStorageInfo>
#include <QVariant>

#include <cmath>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#ifdef RUNWATCH_SQLITE_DIRECT
#include <QSqlDriver>
#include <sqlite3.h>
#endif

namespace Runwatch {

#ifdef RUNWATCH_SQLITE_DIRECT
// Checkpoints of the write-ahead log, on a thread and a connection of their own. SQLite would run
// them inside the commit that crossed 1,000 WAL pages, fsyncs included: every ack and broadcast
// behind that commit waited for the disk (tens to hundreds of milliseconds on a busy one). A
// passive checkpoint lets commits go on meanwhile. But the log starts over only once a checkpoint
// has copied all of it, which one running beside a steady stream of commits never does: past
// HardPages the committing connection checkpoints itself, as SQLite would have, to bound the log.
// Under a steady stream that costs a commit the fsyncs once per HardPages instead of once per
// Pages; between bursts, the thread catches up and no commit waits.
class Checkpointer
{
public:
    static constexpr int Pages = 1000;     // SQLite's own auto-checkpoint threshold
    static constexpr int HardPages = 4000; // 16 MB with 4 KiB pages

    // Null when the second connection cannot be opened (the caller then keeps SQLite's own).
    static std::unique_ptr<Checkpointer> start(const QString &path, bool syncFull)
    {
        sqlite3 *db = nullptr;
        if (sqlite3_open_v2(QFile::encodeName(path).constData(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK
            || sqlite3_exec(db, syncFull ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", nullptr, nullptr, nullptr) != SQLITE_OK) {
            sqlite3_close(db);
            return nullptr;
        }
        return std::unique_ptr<Checkpointer>(new Checkpointer(db));
    }
    ~Checkpointer()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_stop = true;
        }
        m_wake.notify_one();
        m_thread.join();
        sqlite3_close(m_db);
    }
    // A commit left this many pages in the WAL (sqlite3_wal_hook).
    static int walHook(void *self, sqlite3 *db, const char *name, int pages)
    {
        auto *checkpointer = static_cast<Checkpointer *>(self);
        if (pages >= HardPages) {
            // Waits for a checkpoint the thread is running (a passive one here would only be
            // refused meanwhile), then copies the rest with no commit running beside it, so that
            // the next commit starts the log over. SQLite calls the hook with no lock held.
            std::lock_guard<std::mutex> running(checkpointer->m_running);
            sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        } else if (pages >= Pages) {
            checkpointer->request();
        }
        return SQLITE_OK;
    }

private:
    explicit Checkpointer(sqlite3 *db)
        : m_db(db)
    {
        m_thread = std::thread([this] { run(); });
    }
    void request()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_due = true;
        }
        m_wake.notify_one();
    }
    void run()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [this] { return m_stop || m_due; });
            if (m_stop)
                return;
            m_due = false;
            lock.unlock();
            {
                // A failure (a full disk) leaves the pages in the WAL for the next request.
                std::lock_guard<std::mutex> running(m_running);
                sqlite3_wal_checkpoint_v2(m_db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
            }
            lock.lock();
        }
    }
    sqlite3 *m_db;
    std::mutex m_running; // held while a checkpoint runs, on either connection
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_due = false;
    bool m_stop = false;
    std::thread m_thread;
};
#endif

struct SqliteStore::Direct {
    enum Read { Run, All, Lifecycle, ReadCount };
#ifdef RUNWATCH_SQLITE_DIRECT
    sqlite3 *db = nullptr;
    sqlite3_stmt *insert = nullptr;
    sqlite3_stmt *read[ReadCount] = {};
    std::unique_ptr<Checkpointer> checkpointer;
    ~Direct()
    {
        if (checkpointer)
            sqlite3_wal_hook(db, nullptr, nullptr); // SQLite checkpoints at the close instead
        checkpointer.reset();
        sqlite3_finalize(insert);
        for (sqlite3_stmt *statement : read)
            sqlite3_finalize(statement);
    }
    bool prepare(const char *sql, sqlite3_stmt **out)
    {
        return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, nullptr) == SQLITE_OK;
    }
    // The error of the last call, as the Qt driver would report it.
    QSqlError error() const
    {
        return QSqlError(QStringLiteral("Unable to fetch row"), QString::fromUtf8(sqlite3_errmsg(db)),
                         QSqlError::StatementError, QString::number(sqlite3_extended_errcode(db)));
    }
#endif
};

namespace {

std::atomic<int> connectionCounter{0};

QString sqlError(const QSqlError &error)
{
    QString text = error.databaseText();
    if (text.isEmpty())
        text = error.text();
    return text.trimmed();
}

// SQLite's primary result codes (QSQLITE reports the extended ones: the primary is the low byte).
constexpr int SqliteReadOnly = 8;
constexpr int SqliteIoErr = 10;
constexpr int SqliteFull = 13;
constexpr int SqliteConstraint = 19;

int primaryCode(const QSqlError &error)
{
    return error.nativeErrorCode().toInt() & 0xff;
}

// What is wrong with the filesystem that holds `dir`, if anything can be seen: a failed write says
// "disk I/O error" for a full disk as often as "database or disk is full".
QString filesystemTrouble(const QString &dir)
{
    const QStorageInfo info(dir);
    if (!info.isValid())
        return QString();
    if (info.isReadOnly())
        return QStringLiteral("read-only file system");
    if (info.bytesAvailable() <= 0)
        return QStringLiteral("disk full");
    return QString();
}

} // namespace

QString SqliteStore::writeFailure(const QSqlError &error) const
{
    const int code = primaryCode(error);
    QString cause = code == SqliteFull ? QStringLiteral("disk full") : filesystemTrouble(m_dir);
    if (cause.isEmpty())
        cause = code == SqliteReadOnly ? QStringLiteral("read-only") : code == SqliteIoErr ? QStringLiteral("I/O error") : QStringLiteral("write failed");
    return QStringLiteral("%1: cannot write %2 (%3, SQLite code %4)")
        .arg(cause, QDir::toNativeSeparators(m_path), sqlError(error), error.nativeErrorCode());
}

void SqliteStore::writeFailed(const QString &failure)
{
    ++m_writeErrors;
    if (!m_writable)
        return;
    m_writable = false;
    qWarning().noquote() << QStringLiteral("runwatch: cannot store events: %1; publishes are refused until it can write again")
                                .arg(failure);
}

void SqliteStore::writeSucceeded()
{
    if (m_writable)
        return;
    m_writable = true;
    qInfo().noquote() << QStringLiteral("runwatch: storing events again in %1").arg(QDir::toNativeSeparators(m_path));
}

SqliteStore::~SqliteStore()
{
    m_direct.reset();
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
    m_dir = dir;
    m_path = data.filePath(QStringLiteral("runwatch.db"));
    // A start on a full or read-only dir fails somewhere below; the line names why.
    auto cause = [&dir] {
        const QString trouble = filesystemTrouble(dir);
        return trouble.isEmpty() ? QString() : QStringLiteral(": %1").arg(trouble);
    };

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
            *error = QStringLiteral("cannot lock data dir %1%2").arg(QDir::toNativeSeparators(dir), cause());
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
        *error = QStringLiteral("cannot open %1%2 (%3)").arg(m_path, cause(), sqlError(db.lastError()));
        return false;
    }
    QSqlQuery q(db);
    auto exec = [&](const QString &sql) {
        if (q.exec(sql))
            return true;
        *error = QStringLiteral("%1%2 (%3)").arg(m_path, cause(), sqlError(q.lastError()));
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

    // Metric points in blocks (MetricHistory): what keeps the server's memory bounded however much
    // is stored. Derived from the events, so a file without the table simply gains it.
    if (!exec(QStringLiteral("CREATE TABLE IF NOT EXISTS points ("
                             " run TEXT NOT NULL,"
                             " metric TEXT NOT NULL,"
                             " block INTEGER NOT NULL,"
                             " last_seq INTEGER NOT NULL,"
                             " count INTEGER NOT NULL,"
                             " first_step INTEGER NOT NULL,"
                             " last_step INTEGER NOT NULL,"
                             " min REAL,"
                             " max REAL,"
                             " data BLOB NOT NULL,"
                             " PRIMARY KEY (run, metric, block)) WITHOUT ROWID")))
        return false;

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
    m_saveBlock = std::make_unique<QSqlQuery>(db);
    m_readBlocks = std::make_unique<QSqlQuery>(db);
    if (!m_saveBlock->prepare(QStringLiteral("INSERT OR REPLACE INTO points (run, metric, block, last_seq, count, first_step,"
                                             " last_step, min, max, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        || !m_readBlocks->prepare(QStringLiteral("SELECT data FROM points WHERE run = ? AND metric = ? ORDER BY block"))) {
        *error = QStringLiteral("%1: %2").arg(m_path, m_saveBlock->lastError().text() + m_readBlocks->lastError().text());
        return false;
    }
    m_readBlocks->setForwardOnly(true);
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
#ifdef RUNWATCH_SQLITE_DIRECT
    // RUNWATCH_STORE_QT_SQL=1 keeps everything on the Qt Sql path (for comparing the two).
    const QVariant handle = db.driver()->handle();
    if (handle.isValid() && qstrcmp(handle.typeName(), "sqlite3*") == 0 && !qEnvironmentVariableIsSet("RUNWATCH_STORE_QT_SQL")) {
        auto direct = std::make_unique<Direct>();
        direct->db = *static_cast<sqlite3 *const *>(handle.constData());
        if (direct->db
            && direct->prepare("INSERT INTO events (seq, run, type, lifecycle, ts, envelope, eid) VALUES (?, ?, ?, ?, ?, ?, ?)", &direct->insert)
            && direct->prepare("SELECT seq, envelope FROM events WHERE run = ? AND seq > ? ORDER BY seq LIMIT ?", &direct->read[Direct::Run])
            && direct->prepare("SELECT seq, envelope FROM events WHERE seq > ? ORDER BY seq LIMIT ?", &direct->read[Direct::All])
            && direct->prepare("SELECT seq, envelope FROM events WHERE lifecycle = 1 AND seq > ? ORDER BY seq LIMIT ?",
                               &direct->read[Direct::Lifecycle])) {
            // Installing a WAL hook turns SQLite's own checkpoints in the commit off.
            direct->checkpointer = Checkpointer::start(m_path, sync == Sync::Full);
            if (direct->checkpointer)
                sqlite3_wal_hook(direct->db, &Checkpointer::walHook, direct->checkpointer.get());
            m_direct = std::move(direct);
        }
    }
#endif
    return true;
}

#ifdef RUNWATCH_SQLITE_DIRECT
bool SqliteStore::appendDirect(const EventBatch &events, qint64 *bytes, QSqlError *failure)
{
    sqlite3_stmt *insert = m_direct->insert;
    for (const Event &event : events) {
        // Bound as the Qt driver binds them (text as UTF-16, the envelope as a blob), so that rows
        // written either way compare alike.
        sqlite3_bind_int64(insert, 1, event.seq);
        sqlite3_bind_text16(insert, 2, event.run.utf16(), int(event.run.size() * 2), SQLITE_STATIC);
        sqlite3_bind_text16(insert, 3, event.type.utf16(), int(event.type.size() * 2), SQLITE_STATIC);
        sqlite3_bind_int(insert, 4, isLifecycle(event.kind) ? 1 : 0);
        sqlite3_bind_int64(insert, 5, event.tsMs);
        sqlite3_bind_blob(insert, 6, event.envelope.constData(), int(event.envelope.size()), SQLITE_STATIC);
        if (event.eid.isEmpty())
            sqlite3_bind_null(insert, 7);
        else
            sqlite3_bind_text16(insert, 7, event.eid.utf16(), int(event.eid.size() * 2), SQLITE_STATIC);
        if (sqlite3_step(insert) != SQLITE_DONE) {
            *failure = m_direct->error();
            sqlite3_reset(insert);
            sqlite3_clear_bindings(insert);
            return false;
        }
        sqlite3_reset(insert);
        *bytes += event.envelope.size();
    }
    sqlite3_clear_bindings(insert);
    return true;
}

QVector<StoredEnvelope> SqliteStore::readDirect(int which, const QString &run, qint64 since, int limit, qint64 maxBytes) const
{
    sqlite3_stmt *query = m_direct->read[which];
    int i = 1;
    if (which == Direct::Run)
        sqlite3_bind_text16(query, i++, run.utf16(), int(run.size() * 2), SQLITE_STATIC);
    sqlite3_bind_int64(query, i++, since);
    sqlite3_bind_int(query, i, limit);
    QVector<StoredEnvelope> out;
    qint64 bytes = 0;
    while (out.size() < limit && sqlite3_step(query) == SQLITE_ROW) {
        const int size = sqlite3_column_bytes(query, 1);
        if (!out.isEmpty() && bytes + size > maxBytes)
            break;
        const char *data = static_cast<const char *>(sqlite3_column_blob(query, 1));
        out.append(StoredEnvelope{sqlite3_column_int64(query, 0), QByteArray(data, size)});
        bytes += size;
    }
    sqlite3_reset(query);
    sqlite3_clear_bindings(query);
    return out;
}
#else
bool SqliteStore::appendDirect(const EventBatch &, qint64 *, QSqlError *)
{
    return false;
}

QVector<StoredEnvelope> SqliteStore::readDirect(int, const QString &, qint64, int, qint64) const
{
    return {};
}
#endif

bool SqliteStore::appendQt(const EventBatch &events, qint64 *bytes, QSqlError *failure)
{
    for (const Event &event : events) {
        m_insert->bindValue(0, event.seq);
        m_insert->bindValue(1, event.run);
        m_insert->bindValue(2, event.type);
        m_insert->bindValue(3, isLifecycle(event.kind) ? 1 : 0);
        m_insert->bindValue(4, event.tsMs);
        m_insert->bindValue(5, event.envelope);
        m_insert->bindValue(6, event.eid.isEmpty() ? QVariant() : QVariant(event.eid));
        if (!m_insert->exec()) {
            *failure = m_insert->lastError();
            return false;
        }
        *bytes += event.envelope.size();
    }
    return true;
}

bool SqliteStore::append(const EventBatch &events, QString *error, bool *knownEid)
{
    if (events.isEmpty())
        return true;
    // BEGIN and COMMIT as statements, not QSqlDatabase::transaction(): only so does the error
    // carry SQLite's code.
    QSqlQuery control(QSqlDatabase::database(m_connection, false));
    auto fail = [&](const QSqlError &sqlite) {
        const QString failure = writeFailure(sqlite);
        writeFailed(failure);
        if (error)
            *error = failure;
        // SQLite may have rolled back already (a full disk at COMMIT does); then this is a no-op.
        control.exec(QStringLiteral("ROLLBACK"));
        return false;
    };
    if (!control.exec(QStringLiteral("BEGIN")))
        return fail(control.lastError());
    qint64 bytes = 0;
    QSqlError insertError;
    if (!(m_direct ? appendDirect(events, &bytes, &insertError) : appendQt(events, &bytes, &insertError))) {
        if (primaryCode(insertError) != SqliteConstraint)
            return fail(insertError);
        // The unique index on (run, eid) refuses a producer id that is stored already.
        const QString code = insertError.nativeErrorCode();
        if (knownEid && (code == QLatin1String("2067") || code == QLatin1String("19"))) // SQLITE_CONSTRAINT(_UNIQUE)
            *knownEid = true;
        if (error)
            *error = sqlError(insertError);
        control.exec(QStringLiteral("ROLLBACK"));
        return false;
    }
    if (!control.exec(QStringLiteral("COMMIT")))
        return fail(control.lastError());
    writeSucceeded();
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
    if (m_direct)
        return readDirect(Direct::Run, run, since, limit, maxBytes);
    m_readRun->bindValue(0, run);
    m_readRun->bindValue(1, since);
    m_readRun->bindValue(2, limit);
    return read(*m_readRun, limit, maxBytes);
}

QVector<StoredEnvelope> SqliteStore::readAll(qint64 since, int limit, qint64 maxBytes) const
{
    if (m_direct)
        return readDirect(Direct::All, QString(), since, limit, maxBytes);
    m_readAll->bindValue(0, since);
    m_readAll->bindValue(1, limit);
    return read(*m_readAll, limit, maxBytes);
}

QVector<StoredEnvelope> SqliteStore::readLifecycle(qint64 since, int limit, qint64 maxBytes) const
{
    if (m_direct)
        return readDirect(Direct::Lifecycle, QString(), since, limit, maxBytes);
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
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    bool ok = q.exec(QStringLiteral("BEGIN"))
        && q.prepare(QStringLiteral("INSERT OR REPLACE INTO meta (key, value) VALUES ('snapshot', ?), ('snapshot_seq', ?)"));
    if (ok) {
        q.addBindValue(blob);
        q.addBindValue(seq);
        ok = q.exec() && q.exec(QStringLiteral("COMMIT"));
    }
    if (!ok) {
        // Rolled back: a snapshot of an earlier stop, if any, stays; it is still right, because a
        // start replays every event after its seq.
        const QString failure = writeFailure(q.lastError());
        ++m_writeErrors;
        q.exec(QStringLiteral("ROLLBACK"));
        qWarning().noquote() << QStringLiteral("runwatch: snapshot not saved (%1); the next start replays the stored events")
                                    .arg(failure);
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
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(QStringLiteral("BEGIN"))) {
        writeFailed(writeFailure(q.lastError()));
        return false;
    }
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
    q.prepare(QStringLiteral("DELETE FROM points WHERE run = ?"));
    q.addBindValue(run);
    ok = ok && q.exec();
    // A snapshot taken before still holds the run.
    ok = ok && q.exec(QStringLiteral("DELETE FROM meta WHERE key IN ('snapshot', 'snapshot_seq')"));
    if (!ok || !q.exec(QStringLiteral("COMMIT"))) {
        writeFailed(writeFailure(q.lastError()));
        q.exec(QStringLiteral("ROLLBACK"));
        return false;
    }
    writeSucceeded();
    m_events -= count;
    m_bytes -= bytes;
    return count > 0;
}

bool SqliteStore::saveBlock(const StoredBlock &block)
{
    QSqlQuery &q = *m_saveBlock;
    q.bindValue(0, block.run);
    q.bindValue(1, block.metric);
    q.bindValue(2, block.index);
    q.bindValue(3, block.lastSeq);
    q.bindValue(4, block.count);
    q.bindValue(5, block.firstStep);
    q.bindValue(6, block.lastStep);
    q.bindValue(7, std::isnan(block.min) ? QVariant() : QVariant(block.min));
    q.bindValue(8, std::isnan(block.max) ? QVariant() : QVariant(block.max));
    q.bindValue(9, block.data);
    if (!q.exec()) {
        writeFailed(writeFailure(q.lastError()));
        return false;
    }
    q.finish();
    writeSucceeded();
    return true;
}

QVector<StoredBlock> SqliteStore::blockIndex() const
{
    QVector<StoredBlock> out;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    if (!q.exec(QStringLiteral("SELECT run, metric, block, last_seq, count, first_step, last_step, min, max FROM points")))
        return out;
    while (q.next()) {
        StoredBlock block;
        block.run = q.value(0).toString();
        block.metric = q.value(1).toString();
        block.index = q.value(2).toLongLong();
        block.lastSeq = q.value(3).toLongLong();
        block.count = q.value(4).toLongLong();
        block.firstStep = q.value(5).toLongLong();
        block.lastStep = q.value(6).toLongLong();
        block.min = q.value(7).isNull() ? std::nan("") : q.value(7).toDouble();
        block.max = q.value(8).isNull() ? std::nan("") : q.value(8).toDouble();
        out.append(block);
    }
    return out;
}

QVector<QByteArray> SqliteStore::readBlocks(const QString &run, const QString &metric) const
{
    QVector<QByteArray> out;
    QSqlQuery &q = *m_readBlocks;
    q.bindValue(0, run);
    q.bindValue(1, metric);
    if (!q.exec())
        return out;
    while (q.next())
        out.append(q.value(0).toByteArray());
    q.finish();
    return out;
}

} // namespace Runwatch
