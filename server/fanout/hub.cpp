#include "hub.h"

#include <QDateTime>

#include <algorithm>
#include <climits>

namespace Runwatch {

Hub::Hub(const ServerConfig &config, std::unique_ptr<EventStore> store, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_ingest(config, std::move(store))
    , m_fanout(config, m_ingest.store(), [this] { return m_ingest.lastSeq(); })
{
    qRegisterMetaType<Runwatch::Event>();
    qRegisterMetaType<Runwatch::EventBatch>();
}

Hub::~Hub() = default;

PublishResult Hub::publishJson(const QJsonValue &eventOrArray)
{
    EventBatch batch;
    const Error error = parseBatch(eventOrArray, m_config.maxEventsPerPublish, QDateTime::currentMSecsSinceEpoch(), &batch);
    return publishParsed(std::move(batch), error);
}

PublishResult Hub::publishParsed(EventBatch batch, const Error &parseError)
{
    if (parseError) {
        m_ingest.countRejected();
        return {parseError, {}, 0, {}};
    }
    return publish(std::move(batch));
}

PublishResult Hub::publish(EventBatch events)
{
    // Checked, sequenced, stored and applied; then out to the subscribers with everything else
    // accepted in this event-loop pass, as batch frames.
    const PublishResult result = m_ingest.accept(&events);
    if (result.error || events.isEmpty())
        return result;
    m_fanout.enqueue(events);
    if (!m_flushScheduled) {
        m_flushScheduled = true;
        QMetaObject::invokeMethod(this, &Hub::flush, Qt::QueuedConnection);
    }
    Q_EMIT accepted(events);
    return result;
}

void Hub::flush()
{
    m_flushScheduled = false;
    m_fanout.flush();
}

bool Hub::saveSnapshot()
{
    flush();
    return m_ingest.saveSnapshot();
}

bool Hub::removeRun(const QString &id, bool *storeFailed)
{
    bool failed = false;
    if (!m_ingest.run(id)) {
        if (storeFailed)
            *storeFailed = false;
        return false;
    }
    flush(); // what was accepted before the deletion goes out first
    const bool removed = m_ingest.removeRun(id, &failed);
    if (storeFailed)
        *storeFailed = failed;
    if (!removed)
        return false;
    m_fanout.runRemoved(id);
    Q_EMIT runRemoved(id);
    return true;
}

QStringList Hub::applyRetention(qint64 nowMs)
{
    // Finished runs, oldest end first (ids and times copied: removing a run frees its state).
    QVector<QPair<qint64, QString>> finished;
    for (const RunState *run : m_ingest.runs()) {
        if (run->isFinished())
            finished.append({run->endedMs() > 0 ? run->endedMs() : run->updatedMs(), run->id()});
    }
    std::sort(finished.begin(), finished.end());
    QStringList removed;
    const qint64 cutoff = m_config.retainDays > 0 ? nowMs - qint64(m_config.retainDays) * 86400000 : LLONG_MIN;
    for (const auto &[ended, id] : std::as_const(finished)) {
        const bool tooOld = ended < cutoff;
        const bool overCap = m_config.maxHistoryBytes > 0 && m_ingest.store().storedBytes() > m_config.maxHistoryBytes;
        if (!tooOld && !overCap)
            continue;
        if (removeRun(id))
            removed.append(id);
    }
    return removed;
}

HubCounters Hub::counters() const
{
    const IngestCounters &in = m_ingest.counters();
    const FanoutCounters &out = m_fanout.counters();
    HubCounters counters;
    counters.eventsIngested = in.eventsIngested;
    counters.publishRejected = in.publishRejected;
    counters.duplicatesIgnored = in.duplicatesIgnored;
    counters.limitRefused = in.limitRefused;
    counters.rateLimited = m_rateLimited;
    counters.framesSent = out.framesSent;
    counters.deliveries = out.deliveries;
    counters.laggingDropped = out.laggingDropped;
    return counters;
}

} // namespace Runwatch
