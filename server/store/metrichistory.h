#pragma once

#include "runstate.h"

#include <QString>

#include <map>
#include <vector>

namespace Runwatch {

class EventStore;

// The points of every metric series the server holds, with memory bounded whatever is stored.
// Each series keeps its recent points in memory (its tail); a full tail, or the tails least recently
// added to when all tails together pass their budget, goes to the store as one block (steps, values
// and times packed, with its count, step range and extremes). In memory a stored block is only that
// summary: about 80 bytes per block of up to BlockPoints points. Older points are read back from the
// store when asked for.
//
// Blocks are written after the events they come from were committed, so after a crash the events
// replayed at start re-add the points that had not reached a block yet; points of events at or
// below a series' last stored seq are in a block already and are skipped.
class MetricHistory : public PointSink
{
public:
    static constexpr int BlockPoints = 1024;
    static constexpr qint64 BytesPerPoint = 3 * 8; // step, value, time

    // tailBudgetBytes bounds the recent points of all series together.
    MetricHistory(EventStore *store, qint64 tailBudgetBytes);

    // Loads the summaries of the stored blocks (at start, before events are replayed).
    void load();

    void point(const QString &run, const QString &metric, qint64 step, double value, qint64 tsMs, qint64 seq) override;

    // Every point of a series, oldest first (blocks read from the store, then the tail).
    MetricSeries read(const QString &run, const QString &metric) const;
    qint64 count(const QString &run, const QString &metric) const;

    void removeRun(const QString &run);
    // Writes every tail to the store (before a snapshot at a clean stop).
    bool flushAll();

    // Memory held: tails and block summaries.
    qint64 memoryBytes() const;
    qint64 tailBytes() const { return m_tailBytes; }
    qint64 storedBlocks() const { return m_blocks; }
    qint64 blockWriteErrors() const { return m_writeErrors; }

    struct Block {
        qint64 index = 0;
        qint64 lastSeq = 0;
        qint64 count = 0;
        qint64 firstStep = 0;
        qint64 lastStep = 0;
        double min = 0;
        double max = 0;
    };
    static QByteArray pack(const MetricSeries &points);
    static bool unpack(const QByteArray &data, MetricSeries *into);

private:
    struct Series {
        std::vector<Block> blocks;
        MetricSeries tail;
        qint64 tailLastSeq = 0;
        qint64 storedSeq = 0; // last seq in a stored block
        quint64 touched = 0;
    };
    using Key = std::pair<QString, QString>; // run, metric
    bool flush(const Key &key, Series &series);
    void keepBudget();

    EventStore *m_store;
    qint64 m_budget;
    std::map<Key, Series> m_series;
    qint64 m_tailBytes = 0;
    qint64 m_blocks = 0;
    qint64 m_writeErrors = 0;
    quint64 m_clock = 0;
};

} // namespace Runwatch
