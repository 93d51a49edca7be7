#include "memorystore.h"

#include <QFile>
#include <QSaveFile>

#include <algorithm>

namespace Runwatch {

namespace {

constexpr qint64 PerEventOverhead = 3 * qint64(sizeof(StoredEnvelope)) + 32;

QVector<StoredEnvelope> readFrom(const QVector<StoredEnvelope> &list, qint64 since, int limit,
                                 qint64 maxBytes)
{
    auto it = std::upper_bound(list.cbegin(), list.cend(), since,
                               [](qint64 s, const StoredEnvelope &e) { return s < e.seq; });
    QVector<StoredEnvelope> out;
    qint64 bytes = 0;
    for (; it != list.cend() && out.size() < limit; ++it) {
        if (!out.isEmpty() && bytes + it->json.size() > maxBytes)
            break;
        bytes += it->json.size();
        out.append(*it);
    }
    return out;
}

void dropUpTo(QVector<StoredEnvelope> &list, qint64 seq)
{
    auto it = std::upper_bound(list.begin(), list.end(), seq,
                               [](qint64 s, const StoredEnvelope &e) { return s < e.seq; });
    list.erase(list.begin(), it);
}

} // namespace

constexpr qint64 SeqReservation = 100000;

MemoryStore::MemoryStore(qint64 budgetBytes, const QString &seqFile)
    : m_budget(budgetBytes)
    , m_seqFile(seqFile)
{
    if (m_seqFile.isEmpty())
        return;
    QFile file(m_seqFile);
    if (file.open(QIODevice::ReadOnly)) {
        bool ok = false;
        const qint64 reserved = file.readAll().trimmed().toLongLong(&ok);
        if (ok && reserved > 0) {
            // Seq numbers up to the reservation may have been handed out before a crash.
            m_lastSeq = reserved;
            m_reserved = reserved;
        }
    }
}

bool MemoryStore::reserve(qint64 seq, QString *error)
{
    if (m_seqFile.isEmpty() || seq <= m_reserved)
        return true;
    const qint64 reserved = seq + SeqReservation;
    QSaveFile file(m_seqFile);
    if (!file.open(QIODevice::WriteOnly) || file.write(QByteArray::number(reserved) + '\n') < 0 || !file.commit()) {
        if (error)
            *error = QStringLiteral("cannot write %1: %2").arg(m_seqFile, file.errorString());
        return false;
    }
    m_reserved = reserved;
    return true;
}

bool MemoryStore::append(const EventBatch &events, QString *error, bool *knownEid)
{
    for (const Event &event : events) {
        if (!event.eid.isEmpty() && findEid(event.run, event.eid)) {
            if (knownEid)
                *knownEid = true;
            if (error)
                *error = QStringLiteral("event id %1 of run %2 is stored already").arg(event.eid, event.run);
            return false;
        }
    }
    if (!events.isEmpty() && !reserve(events.last().seq, error))
        return false;
    for (const Event &event : events) {
        const StoredEnvelope stored{event.seq, event.envelope};
        m_all.append(stored);
        m_runs[event.run].append(stored);
        if (!event.eid.isEmpty())
            m_eids[event.run].insert(event.eid, event.seq);
        if (isLifecycle(event.kind))
            m_lifecycle.append(stored);
        m_bytes += event.envelope.size() + PerEventOverhead;
        m_lastSeq = event.seq;
    }
    if (m_budget > 0 && m_bytes + m_blockBytes > m_budget)
        prune();
    return true;
}

void MemoryStore::prune()
{
    qint64 target = m_budget - m_budget / 10;
    qint64 freed = 0;
    qsizetype count = 0;
    while (count < m_all.size() && m_bytes + m_blockBytes - freed > target) {
        freed += m_all.at(count).json.size() + PerEventOverhead;
        ++count;
    }
    if (count == 0)
        return;
    const qint64 cutoff = m_all.at(count - 1).seq;
    m_all.erase(m_all.begin(), m_all.begin() + count);
    dropUpTo(m_lifecycle, cutoff);
    for (auto it = m_runs.begin(); it != m_runs.end(); ++it)
        dropUpTo(it.value(), cutoff);
    m_bytes -= freed;
    m_prunedUpTo = cutoff;
    // Metric points go with the events they came from.
    for (auto &metrics : m_blocks) {
        for (QVector<StoredBlock> &blocks : metrics) {
            const auto kept = std::find_if(blocks.begin(), blocks.end(), [cutoff](const StoredBlock &b) { return b.lastSeq > cutoff; });
            for (auto it = blocks.begin(); it != kept; ++it)
                m_blockBytes -= it->data.size();
            blocks.erase(blocks.begin(), kept);
        }
    }
}

QVector<StoredEnvelope> MemoryStore::readRun(const QString &run, qint64 since, int limit,
                                             qint64 maxBytes) const
{
    auto it = m_runs.constFind(run);
    if (it == m_runs.constEnd())
        return {};
    return readFrom(*it, since, limit, maxBytes);
}

QVector<StoredEnvelope> MemoryStore::readAll(qint64 since, int limit, qint64 maxBytes) const
{
    return readFrom(m_all, since, limit, maxBytes);
}

QVector<StoredEnvelope> MemoryStore::readLifecycle(qint64 since, int limit, qint64 maxBytes) const
{
    return readFrom(m_lifecycle, since, limit, maxBytes);
}

QVector<StoredEnvelope> MemoryStore::readBefore(const QString &run, qint64 before, int limit) const
{
    const QVector<StoredEnvelope> *list = &m_all;
    if (!run.isEmpty()) {
        auto it = m_runs.constFind(run);
        if (it == m_runs.constEnd())
            return {};
        list = &*it;
    }
    auto end = std::lower_bound(list->cbegin(), list->cend(), before,
                                [](const StoredEnvelope &e, qint64 s) { return e.seq < s; });
    const qsizetype count = qMin<qsizetype>(limit, end - list->cbegin());
    return QVector<StoredEnvelope>(end - count, end);
}

qint64 MemoryStore::findEid(const QString &run, const QString &eid) const
{
    const auto it = m_eids.constFind(run);
    return it == m_eids.constEnd() ? 0 : it->value(eid, 0);
}

bool MemoryStore::saveBlock(const StoredBlock &block)
{
    // Counted against the same budget as events; they go with their run.
    m_blocks[block.run][block.metric].append(block);
    m_blockBytes += block.data.size();
    if (m_budget > 0 && m_bytes + m_blockBytes > m_budget)
        prune();
    return true;
}

QVector<StoredBlock> MemoryStore::blockIndex() const
{
    QVector<StoredBlock> out;
    for (const auto &metrics : m_blocks) {
        for (const QVector<StoredBlock> &blocks : metrics) {
            for (StoredBlock block : blocks) {
                block.data.clear();
                out.append(block);
            }
        }
    }
    return out;
}

QVector<QByteArray> MemoryStore::readBlocks(const QString &run, const QString &metric) const
{
    QVector<QByteArray> out;
    for (const StoredBlock &block : m_blocks.value(run).value(metric))
        out.append(block.data);
    return out;
}

bool MemoryStore::removeRun(const QString &run)
{
    m_eids.remove(run);
    for (const QVector<StoredBlock> &blocks : m_blocks.value(run)) {
        for (const StoredBlock &block : blocks)
            m_blockBytes -= block.data.size();
    }
    m_blocks.remove(run);
    auto it = m_runs.find(run);
    if (it == m_runs.end())
        return false;
    QVector<qint64> seqs;
    seqs.reserve(it->size());
    for (const StoredEnvelope &e : *it) {
        seqs.append(e.seq);
        m_bytes -= e.json.size() + PerEventOverhead;
    }
    m_runs.erase(it);
    auto removeSeqs = [&](QVector<StoredEnvelope> &list) {
        list.erase(std::remove_if(list.begin(), list.end(),
                                  [&](const StoredEnvelope &e) {
                                      return std::binary_search(seqs.cbegin(), seqs.cend(), e.seq);
                                  }),
                   list.end());
    };
    removeSeqs(m_all);
    removeSeqs(m_lifecycle);
    return true;
}

} // namespace Runwatch
