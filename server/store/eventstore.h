#pragma once

#include "event.h"

#include <QByteArray>
#include <QString>
#include <QVector>

namespace Runwatch {

struct StoredEnvelope {
    qint64 seq = 0;
    QByteArray json;
};

// One stored block of a metric's points (MetricHistory): its summary, and the packed points.
struct StoredBlock {
    QString run;
    QString metric;
    qint64 index = 0;   // 0, 1, 2, ... within the series
    qint64 lastSeq = 0; // of the newest event it holds a point of
    qint64 count = 0;
    qint64 firstStep = 0;
    qint64 lastStep = 0;
    double min = 0;     // of the finite values; NaN when there are none
    double max = 0;
    QByteArray data;    // empty in blockIndex()
};

// Where accepted events are kept for replay. The Hub calls it on the server thread only.
class EventStore
{
public:
    virtual ~EventStore() = default;

    // Highest seq ever stored (also after a restart); 0 when empty.
    virtual qint64 lastSeq() const = 0;
    // Stores a batch, all or nothing; returns only once the batch is as durable as this store makes
    // it. When an event repeats a producer id (eid) already stored for its run, stores nothing and
    // sets *knownEid.
    virtual bool append(const EventBatch &events, QString *error, bool *knownEid = nullptr) = 0;

    // Envelopes with seq > since, ascending, at most `limit` of them and about `maxBytes`.
    virtual QVector<StoredEnvelope> readRun(const QString &run, qint64 since, int limit,
                                            qint64 maxBytes) const = 0;
    virtual QVector<StoredEnvelope> readAll(qint64 since, int limit, qint64 maxBytes) const = 0;
    virtual QVector<StoredEnvelope> readLifecycle(qint64 since, int limit, qint64 maxBytes) const = 0;
    // The `limit` envelopes just below seq `before` (of one run, or of all when run is empty),
    // ascending: for scrolling back in history.
    virtual QVector<StoredEnvelope> readBefore(const QString &run, qint64 before, int limit) const = 0;

    // Metric point blocks (MetricHistory), deleted with their run by removeRun.
    virtual bool saveBlock(const StoredBlock &block) = 0;
    // Every block's summary, without its points.
    virtual QVector<StoredBlock> blockIndex() const = 0;
    // The packed points of a series' blocks, by index ascending.
    virtual QVector<QByteArray> readBlocks(const QString &run, const QString &metric) const = 0;

    virtual bool removeRun(const QString &run) = 0;
    // The seq of the stored event of `run` that the producer gave the id `eid`; 0 when none.
    virtual qint64 findEid(const QString &run, const QString &eid) const = 0;

    // A snapshot of the derived state as of seq `seq` (the Hub's; opaque here), so that a start
    // replays only the events after it. Dropped whenever history is deleted.
    virtual bool saveSnapshot(qint64 seq, const QByteArray &blob) = 0;
    virtual QByteArray loadSnapshot(qint64 *seq) const = 0;
    virtual void dropSnapshot() = 0;
    // Lowest seq still held for replay (events below it were pruned); 0 when nothing was pruned.
    virtual qint64 firstRetainedSeq() const = 0;
    virtual qint64 storedEvents() const = 0;
    virtual qint64 storedBytes() const = 0;
    // False from a failed write (a full disk, a read-only or failing data dir) until a write
    // succeeds again; reads keep working meanwhile.
    virtual bool writable() const { return true; }
    // Writes that failed for such a reason, since the start.
    virtual qint64 writeErrors() const { return 0; }
};

} // namespace Runwatch
