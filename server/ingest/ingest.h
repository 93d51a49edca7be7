#pragma once

#include "config.h"
#include "event.h"
#include "eventstore.h"
#include "metrichistory.h"
#include "runstate.h"

#include <QHash>
#include <QJsonArray>

#include <map>
#include <memory>

namespace Runwatch {

// Something about an accepted event the producer should know: it was stored all the same.
struct PublishWarning {
    int index = 0;   // of the event in its publish
    QString code;    // UNKNOWN_TYPE
    QString message;
};

// [{"index": …, "code": …, "message": …}, …] as acks and POST answers carry them.
QJsonArray warningsJson(const QVector<PublishWarning> &warnings);

struct PublishResult {
    Error error;
    QVector<qint64> seqs; // one per event, in order; a repeated eid gets the seq stored the first time
    int duplicates = 0;   // events not stored again because their eid was known
    QVector<PublishWarning> warnings;
};

struct IngestCounters {
    qint64 eventsIngested = 0;
    qint64 publishRejected = 0;
    qint64 duplicatesIgnored = 0;
    qint64 limitRefused = 0;  // publishes refused for the run, metric-name or step limits
};

// The way in: every publish is checked against the limits, de-duplicated by producer id, given
// its seq numbers, stored (all or nothing) and applied to its run's state. Owns the store, the runs
// and their metric points. Lives on the server thread.
class Ingest
{
public:
    Ingest(const ServerConfig &config, std::unique_ptr<EventStore> store);

    // Parses one event object or an array of at most maxEventsPerPublish, stamping `now` as their
    // receive time. Safe on any thread: it touches no state.
    static Error parseBatch(const QJsonValue &eventOrArray, int maxEventsPerPublish, qint64 now, EventBatch *out);
    // Accepts a batch: on success *events holds what was stored, sequenced and serialized (events
    // that repeated a known eid taken out), ready to be fanned out.
    PublishResult accept(EventBatch *events);
    // A publish refused before it got here (a parse error).
    void countRejected() { ++m_counters.publishRejected; }

    // False for an unknown run, and (with *storeFailed set) when the store could not delete it.
    bool removeRun(const QString &run, bool *storeFailed);

    qint64 lastSeq() const { return m_seq; }
    const RunState *run(const QString &id) const;
    // Newest first.
    QVector<const RunState *> runs() const;
    const EventStore &store() const { return *m_store; }
    const MetricHistory &history() const { return m_history; }
    const IngestCounters &counters() const { return m_counters; }
    qint64 restoredEvents() const { return m_restoredEvents; }
    bool restoredFromSnapshot() const { return m_restoredFromSnapshot; }
    bool saveSnapshot();
    QByteArray snapshot() const;

private:
    bool restoreSnapshot(const QByteArray &blob);
    RunState &runFor(const QString &id);
    Error checkLimits(const EventBatch &events) const;
    QVector<PublishWarning> warningsFor(const EventBatch &events);

    ServerConfig m_config;
    std::unique_ptr<EventStore> m_store;
    MetricHistory m_history;
    qint64 m_seq = 0;
    std::map<QString, RunState> m_runs;
    IngestCounters m_counters;
    QHash<QString, QString> m_typeSuggestions; // custom type -> known type it looks like ("" for none)
    qint64 m_restoredEvents = 0;
    bool m_restoredFromSnapshot = false;
};

} // namespace Runwatch
