#pragma once

#include "config.h"
#include "event.h"
#include "eventstore.h"
#include "metrichistory.h"
#include "runstate.h"

#include <QHash>
#include <QJsonArray>
#include <QJsonValue>
#include <QObject>

#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

namespace Runwatch {

class Subscriber;

// What a subscriber asked for: one run, every run ("*"), or the lifecycle stream of every run.
struct Subscription {
    enum class Target { Run, All, Lifecycle };
    Subscriber *owner = nullptr;
    Target target = Target::Run;
    QString run;
    qint64 cursor = 0;      // highest seq this subscription has delivered (or skipped over)
    bool live = false;      // false while history is being replayed
    bool announce = false;  // send {"type":"subscribed"} when replay ends (subscribe op)
    QJsonValue announceId;  // the subscribe op's id, repeated in "subscribed"
};

// A consumer of envelopes: a WebSocket client (or a test double). Lives on the server thread.
class Subscriber
{
public:
    virtual ~Subscriber() = default;
    // One text message, as UTF-8 (envelopes, batch frames, acks are made as UTF-8 and go out as such).
    virtual void sendFrame(const QByteArray &utf8) = 0;
    virtual qint64 queuedBytes() const = 0;
    // Called when the subscriber fell further behind than the bound allows.
    virtual void cutLoose(int closeCode, const QString &reason) = 0;
};

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

// The heart of the server: assigns seq numbers, derives run state, stores, and fans events out,
// replaying history before live events. Lives on the server thread; never blocks on a consumer.
class Hub : public QObject
{
    Q_OBJECT
public:
    static constexpr int CloseLagging = 4008;

    Hub(const ServerConfig &config, std::unique_ptr<EventStore> store, QObject *parent = nullptr);
    ~Hub() override;

    // Parses one event object or an array of them, all or nothing, and publishes them.
    PublishResult publishJson(const QJsonValue &eventOrArray);
    PublishResult publish(EventBatch events);
    // The first half of publishJson, safe on any thread (it touches no hub state): parses one event
    // object or an array of at most maxEventsPerPublish, stamping `now` as their receive time.
    static Error parseBatch(const QJsonValue &eventOrArray, int maxEventsPerPublish, qint64 now, EventBatch *out);
    // The second half: publishes what parseBatch made, or counts and returns its error.
    PublishResult publishParsed(EventBatch batch, const Error &parseError);

    // Subscriptions. `since` < 0 means "live only" (replay=0).
    Subscription *subscribe(Subscriber *owner, Subscription::Target target, const QString &run,
                            qint64 since, bool announce, const QJsonValue &announceId = QJsonValue());
    bool unsubscribe(Subscriber *owner, Subscription::Target target, const QString &run);
    void removeSubscriber(Subscriber *owner);
    // A subscriber's socket drained: continue any replay that waited for room.
    void drained(Subscriber *owner);
    QStringList subscriptionsOf(Subscriber *owner) const;
    int subscriberCount(const QString &run) const;

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

    qint64 lastSeq() const { return m_seq; }
    const RunState *run(const QString &id) const;
    QVector<const RunState *> runs() const;
    const EventStore &store() const { return *m_store; }
    // The points of every metric series (RunState keeps only their names and counts).
    const MetricHistory &history() const { return m_history; }
    const HubCounters &counters() const { return m_counters; }
    void countRateLimited() { ++m_counters.rateLimited; }
    // A client cut loose for its queue bound outside a delivery (answers it did not read).
    void countLaggingDropped() { ++m_counters.laggingDropped; }
    // Events read back from the store when the hub started.
    qint64 restoredEvents() const { return m_restoredEvents; }
    // Whether the start began from a snapshot (then only later events were replayed).
    bool restoredFromSnapshot() const { return m_restoredFromSnapshot; }
    // Writes the derived state of every run to the store, so the next start need not replay
    // everything; called at a clean stop.
    bool saveSnapshot();
    QByteArray snapshot() const;
    const ServerConfig &config() const { return m_config; }

    // Delivers what is pending now instead of at the end of this event-loop pass.
    void flush();

Q_SIGNALS:
    // Emitted after each accepted batch (for in-process viewers, which coalesce it themselves).
    void accepted(const Runwatch::EventBatch &events);
    void runRemoved(const QString &run);

private:
    struct Chunk {
        QByteArray frame;
        qint64 firstSeq;
        qint64 lastSeq;
    };
    void scheduleFlush();
    void deliver(const QVector<Subscription *> &subs, const QVector<int> &indices);
    QVector<Chunk> chunksFor(const QVector<int> &indices) const;
    void pump(Subscription *sub);
    void checkLag(Subscriber *owner);
    QVector<Subscription *> *indexFor(Subscription::Target target, const QString &run);
    void detach(Subscription *sub);
    bool restoreSnapshot(const QByteArray &blob);
    RunState &runFor(const QString &id);
    Error checkLimits(const EventBatch &events) const;
    QVector<PublishWarning> warningsFor(const EventBatch &events);

    ServerConfig m_config;
    std::unique_ptr<EventStore> m_store;
    MetricHistory m_history;
    qint64 m_seq = 0;
    std::map<QString, RunState> m_runs;
    EventBatch m_pending;
    bool m_flushScheduled = false;
    std::unordered_map<Subscriber *, std::vector<std::unique_ptr<Subscription>>> m_bySubscriber;
    QHash<QString, QVector<Subscription *>> m_byRun;
    QVector<Subscription *> m_all;
    QVector<Subscription *> m_lifecycle;
    QVector<Subscriber *> m_cutting;
    HubCounters m_counters;
    QHash<QString, QString> m_typeSuggestions; // custom type -> known type it looks like ("" for none)
    qint64 m_restoredEvents = 0;
    bool m_restoredFromSnapshot = false;
};

} // namespace Runwatch
