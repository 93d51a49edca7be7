#pragma once

#include "eventstore.h"

#include <QHash>

namespace Runwatch {

// Keeps history in memory, within a byte budget: past it, the oldest events of the whole server
// are pruned (a tenth of the budget at a time) and replay starts after them.
class MemoryStore : public EventStore
{
public:
    // seqFile (optional) keeps a high-water mark of seq numbers so that they are never reused,
    // also after a restart with an empty memory.
    explicit MemoryStore(qint64 budgetBytes = qint64(1) << 30, const QString &seqFile = QString());

    qint64 lastSeq() const override { return m_lastSeq; }
    bool append(const EventBatch &events, QString *error, bool *knownEid = nullptr) override;
    QVector<StoredEnvelope> readRun(const QString &run, qint64 since, int limit,
                                    qint64 maxBytes) const override;
    QVector<StoredEnvelope> readAll(qint64 since, int limit, qint64 maxBytes) const override;
    QVector<StoredEnvelope> readLifecycle(qint64 since, int limit, qint64 maxBytes) const override;
    QVector<StoredEnvelope> readBefore(const QString &run, qint64 before, int limit) const override;
    bool removeRun(const QString &run) override;
    bool saveBlock(const StoredBlock &block) override;
    QVector<StoredBlock> blockIndex() const override;
    QVector<QByteArray> readBlocks(const QString &run, const QString &metric) const override;
    qint64 findEid(const QString &run, const QString &eid) const override;
    // Memory does not outlive the process: nothing to restore from.
    bool saveSnapshot(qint64, const QByteArray &) override { return true; }
    QByteArray loadSnapshot(qint64 *) const override { return {}; }
    void dropSnapshot() override {}
    qint64 firstRetainedSeq() const override { return m_prunedUpTo ? m_prunedUpTo + 1 : 0; }
    qint64 storedEvents() const override { return m_all.size(); }
    qint64 storedBytes() const override { return m_bytes; }

private:
    void prune();
    bool reserve(qint64 seq, QString *error);

    qint64 m_budget;
    qint64 m_bytes = 0;
    qint64 m_blockBytes = 0; // of metric point blocks: within the same budget
    qint64 m_lastSeq = 0;
    qint64 m_prunedUpTo = 0;
    qint64 m_reserved = 0;
    QString m_seqFile;
    QVector<StoredEnvelope> m_all;
    QVector<StoredEnvelope> m_lifecycle;
    QHash<QString, QVector<StoredEnvelope>> m_runs;
    QHash<QString, QHash<QString, qint64>> m_eids; // run -> producer event id -> seq
    QHash<QString, QHash<QString, QVector<StoredBlock>>> m_blocks; // run -> metric -> blocks
};

} // namespace Runwatch
