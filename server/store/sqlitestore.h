#pragma once

#include "eventstore.h"

#include <QLockFile>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>

#include <memory>

namespace Runwatch {

// Every event, durable, in one SQLite file (runwatch.db) in the data dir: WAL journal, one
// transaction per append, so an append returns only once its events are committed and a crash of
// the process loses nothing that was acknowledged. One process owns a data dir at a time (a lock
// file next to the database). Used on one thread only: the one that opened it.
class SqliteStore : public EventStore
{
public:
    enum class Sync { Normal, Full }; // Full also survives a power loss, at a cost per commit

    ~SqliteStore() override;

    // Opens (or creates) the store in `dir`. nullptr with a one-line reason in *error when the dir
    // is in use by another process, or holds a file that is not a Runwatch database.
    static std::unique_ptr<SqliteStore> open(const QString &dir, Sync sync, QString *error);

    qint64 lastSeq() const override { return m_lastSeq; }
    bool append(const EventBatch &events, QString *error, bool *knownEid = nullptr) override;
    QVector<StoredEnvelope> readRun(const QString &run, qint64 since, int limit, qint64 maxBytes) const override;
    QVector<StoredEnvelope> readAll(qint64 since, int limit, qint64 maxBytes) const override;
    QVector<StoredEnvelope> readLifecycle(qint64 since, int limit, qint64 maxBytes) const override;
    QVector<StoredEnvelope> readBefore(const QString &run, qint64 before, int limit) const override;
    bool removeRun(const QString &run) override;
    bool saveBlock(const StoredBlock &block) override;
    QVector<StoredBlock> blockIndex() const override;
    QVector<QByteArray> readBlocks(const QString &run, const QString &metric) const override;
    qint64 findEid(const QString &run, const QString &eid) const override;
    bool saveSnapshot(qint64 seq, const QByteArray &blob) override;
    QByteArray loadSnapshot(qint64 *seq) const override;
    void dropSnapshot() override;
    qint64 firstRetainedSeq() const override { return 0; }
    qint64 storedEvents() const override { return m_events; }
    qint64 storedBytes() const override { return m_bytes; }
    bool writable() const override { return m_writable; }
    qint64 writeErrors() const override { return m_writeErrors; }

    QString path() const { return m_path; }
    static constexpr int ApplicationId = 0x52575443; // "RWTC": marks the file as ours
    static constexpr int SchemaVersion = 2; // 2: producer event ids (eid)

private:
    SqliteStore() = default;
    bool init(const QString &dir, Sync sync, QString *error);
    QVector<StoredEnvelope> read(QSqlQuery &query, int limit, qint64 maxBytes) const;
    // Why a write failed, with its cause (disk full, read-only, I/O error) and the path.
    QString writeFailure(const QSqlError &error) const;
    // Counts a failed write; the first one after a success is logged.
    void writeFailed(const QString &failure);
    void writeSucceeded();

    // The hot statements (insert, replay reads) straight through SQLite's C API on the same
    // connection, when the Qt SQLite driver uses the system's SQLite (decided at build time):
    // Qt's binding and row caching cost more than SQLite's own work there.
    struct Direct;
    std::unique_ptr<Direct> m_direct;
    // Insert every event of a batch inside the open transaction; false with the error of the
    // first insert that failed.
    bool appendDirect(const EventBatch &events, qint64 *bytes, QSqlError *failure);
    bool appendQt(const EventBatch &events, qint64 *bytes, QSqlError *failure);
    QVector<StoredEnvelope> readDirect(int which, const QString &run, qint64 since, int limit, qint64 maxBytes) const;

    QString m_connection;
    QString m_dir;
    QString m_path;
    bool m_writable = true;
    qint64 m_writeErrors = 0;
    std::unique_ptr<QLockFile> m_lock;
    qint64 m_lastSeq = 0;
    qint64 m_events = 0;
    qint64 m_bytes = 0;
    std::unique_ptr<QSqlQuery> m_insert;
    mutable std::unique_ptr<QSqlQuery> m_readRun;
    mutable std::unique_ptr<QSqlQuery> m_readAll;
    mutable std::unique_ptr<QSqlQuery> m_readLifecycle;
    mutable std::unique_ptr<QSqlQuery> m_readBefore;
    mutable std::unique_ptr<QSqlQuery> m_readRunBefore;
    mutable std::unique_ptr<QSqlQuery> m_findEid;
    std::unique_ptr<QSqlQuery> m_saveBlock;
    mutable std::unique_ptr<QSqlQuery> m_readBlocks;
};

} // namespace Runwatch
