#pragma once

#include "config.h"
#include "event.h"
#include "fanout.h"
#include "ingest.h"

#include <QObject>

#include <memory>

namespace Runwatch {

struct HubCounters {
    qint64 eventsIngested = 0;
    qint64 publishRejected = 0;
    qint64 framesSent = 0;
    qint64 deliveries = 0;
    qint64 laggingDropped = 0;
    qint64 duplicatesIgnored = 0;
    qint64 rateLimited = 0;   // publishes refused for a producer's rate limit
    qint64 limitRefused = 0;  // publishes refused for the run or metric-name limits
};

// The heart of the server, in two parts: Ingest (limits, dedupe, seq, store, run state) hands
// what it accepted to Fanout (subscriptions, replay then live, slow consumers). Lives on the server
// thread; never blocks on a consumer.
class Hub : public QObject
{
    Q_OBJECT
public:
    static constexpr int CloseLagging = Fanout::CloseLagging;

    Hub(const ServerConfig &config, std::unique_ptr<EventStore> store, QObject *parent = nullptr);
    ~Hub() override;

    // Parses one event object or an array of them, all or nothing, and publishes them.
    PublishResult publishJson(const QJsonValue &eventOrArray);
    PublishResult publish(EventBatch events);
    // The first half of publishJson, safe on any thread (it touches no hub state).
    static Error parseBatch(const QJsonValue &eventOrArray, int maxEventsPerPublish, qint64 now, EventBatch *out)
    {
        return Ingest::parseBatch(eventOrArray, maxEventsPerPublish, now, out);
    }
    // The second half: publishes what parseBatch made, or counts and returns its error.
    PublishResult publishParsed(EventBatch batch, const Error &parseError);

    // Subscriptions. `since` < 0 means "live only" (replay=0).
    Subscription *subscribe(Subscriber *owner, Subscription::Target target, const QString &run,
                            qint64 since, bool announce, const QJsonValue &announceId = QJsonValue())
    {
        return m_fanout.subscribe(owner, target, run, since, announce, announceId);
    }
    bool unsubscribe(Subscriber *owner, Subscription::Target target, const QString &run)
    {
        return m_fanout.unsubscribe(owner, target, run);
    }
    void removeSubscriber(Subscriber *owner) { m_fanout.removeSubscriber(owner); }
    // A subscriber's socket drained: continue any replay that waited for room.
    void drained(Subscriber *owner) { m_fanout.drained(owner); }
    QStringList subscriptionsOf(Subscriber *owner) const { return m_fanout.subscriptionsOf(owner); }
    int subscriberCount(const QString &run) const { return m_fanout.subscriberCount(run); }

    // False for an unknown run, and (with *storeFailed set) when the store could not delete it.
    bool removeRun(const QString &run, bool *storeFailed = nullptr);
    // Deletes finished runs past the retention policy (config retainDays, maxHistoryBytes): those
    // that ended more than retainDays ago, then, while the history is over its cap, the finished
    // run that ended first. Running runs are never touched. Returns the runs deleted.
    QStringList applyRetention(qint64 nowMs);
    void setRetention(int retainDays, qint64 maxHistoryBytes)
    {
        m_config.retainDays = retainDays;
        m_config.maxHistoryBytes = maxHistoryBytes;
    }

    qint64 lastSeq() const { return m_ingest.lastSeq(); }
    const RunState *run(const QString &id) const { return m_ingest.run(id); }
    QVector<const RunState *> runs() const { return m_ingest.runs(); }
    const EventStore &store() const { return m_ingest.store(); }
    // The points of every metric series (RunState keeps only their names and counts).
    const MetricHistory &history() const { return m_ingest.history(); }
    HubCounters counters() const;
    void countRateLimited() { ++m_rateLimited; }
    // A client cut loose for its queue bound outside a delivery (answers it did not read).
    void countLaggingDropped() { m_fanout.countLaggingDropped(); }
    // Events read back from the store when the hub started.
    qint64 restoredEvents() const { return m_ingest.restoredEvents(); }
    // Whether the start began from a snapshot (then only later events were replayed).
    bool restoredFromSnapshot() const { return m_ingest.restoredFromSnapshot(); }
    // Writes the derived state of every run to the store, so the next start need not replay
    // everything; called at a clean stop.
    bool saveSnapshot();
    QByteArray snapshot() const { return m_ingest.snapshot(); }
    const ServerConfig &config() const { return m_config; }

    // Delivers what is pending now instead of at the end of this event-loop pass.
    void flush();

Q_SIGNALS:
    // Emitted after each accepted batch (for in-process viewers, which coalesce it themselves).
    void accepted(const Runwatch::EventBatch &events);
    void runRemoved(const QString &run);

private:
    ServerConfig m_config;
    Ingest m_ingest;
    Fanout m_fanout;
    qint64 m_rateLimited = 0;
    bool m_flushScheduled = false;
};

} // namespace Runwatch
