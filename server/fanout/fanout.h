#pragma once

#include "config.h"
#include "event.h"

#include <QHash>
#include <QJsonValue>

#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

namespace Runwatch {

class EventStore;
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

struct FanoutCounters {
    qint64 framesSent = 0;
    qint64 deliveries = 0;
    qint64 laggingDropped = 0;
};

// The way out: subscriptions, replay from the store before live events (paced by how fast each
// subscriber reads), live delivery in batch frames, and the slow-consumer policy (past
// maxQueueBytes a subscriber is cut loose with 4008). Lives on the server thread.
class Fanout
{
public:
    static constexpr int CloseLagging = 4008;

    // `lastSeq` gives the highest seq accepted (and stored) so far.
    Fanout(const ServerConfig &config, const EventStore &store, std::function<qint64()> lastSeq);

    // Accepted events, delivered at the next flush.
    void enqueue(const EventBatch &events);
    bool hasPending() const { return !m_pending.isEmpty(); }
    void flush();

    // `since` < 0 means "live only" (replay=0).
    Subscription *subscribe(Subscriber *owner, Subscription::Target target, const QString &run,
                            qint64 since, bool announce, const QJsonValue &announceId = QJsonValue());
    bool unsubscribe(Subscriber *owner, Subscription::Target target, const QString &run);
    void removeSubscriber(Subscriber *owner);
    // A subscriber's socket drained: continue any replay that waited for room.
    void drained(Subscriber *owner);
    QStringList subscriptionsOf(Subscriber *owner) const;
    int subscriberCount(const QString &run) const;
    // Tells the run's subscribers (and those of every run) that it is gone.
    void runRemoved(const QString &run);

    const FanoutCounters &counters() const { return m_counters; }
    void countLaggingDropped() { ++m_counters.laggingDropped; }

private:
    struct Chunk {
        QByteArray frame;
        qint64 firstSeq;
        qint64 lastSeq;
    };
    void deliver(const QVector<Subscription *> &subs, const QVector<int> &indices);
    QVector<Chunk> chunksFor(const QVector<int> &indices) const;
    void pump(Subscription *sub);
    void checkLag(Subscriber *owner);
    QVector<Subscription *> *indexFor(Subscription::Target target, const QString &run);
    void detach(Subscription *sub);

    qint64 m_maxQueueBytes;
    const EventStore &m_store;
    std::function<qint64()> m_lastSeq;
    EventBatch m_pending;
    std::unordered_map<Subscriber *, std::vector<std::unique_ptr<Subscription>>> m_bySubscriber;
    QHash<QString, QVector<Subscription *>> m_byRun;
    QVector<Subscription *> m_all;
    QVector<Subscription *> m_lifecycle;
    QVector<Subscriber *> m_cutting;
    FanoutCounters m_counters;
};

} // namespace Runwatch
