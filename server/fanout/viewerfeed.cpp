#include "viewerfeed.h"

#include "codec.h"
#include "hub.h"

#include <limits>

namespace Runwatch {

ViewerFeed::ViewerFeed(Hub *hub, std::function<int()> clientCount, QObject *parent)
    : QObject(parent), m_hub(hub), m_clientCount(std::move(clientCount))
{
    qRegisterMetaType<Runwatch::EventBatch>();
    qRegisterMetaType<Runwatch::ViewerFeed::Status>();
    m_fromStore = hub->lastSeq() > 0;
    connect(hub, &Hub::accepted, this, &ViewerFeed::onAccepted);
    connect(hub, &Hub::runRemoved, this, &ViewerFeed::runRemoved);
    m_timer.setInterval(IntervalMs);
    connect(&m_timer, &QTimer::timeout, this, &ViewerFeed::tick);
    m_timer.start();
    m_rateClock.start();
}

void ViewerFeed::requestRemoveRun(const QString &run)
{
    QMetaObject::invokeMethod(this, [this, run] { m_hub->removeRun(run); }, Qt::QueuedConnection);
}

QString ViewerFeed::publish(const QJsonValue &events)
{
    QString error;
    QMetaObject::invokeMethod(
        this,
        [&] {
            const PublishResult result = m_hub->publishJson(events);
            if (result.error)
                error = result.error.message;
        },
        Qt::BlockingQueuedConnection);
    return error;
}

EventBatch ViewerFeed::readBefore(const QString &run, qint64 before, int limit)
{
    EventBatch out;
    QMetaObject::invokeMethod(
        this,
        [&] {
            const QVector<StoredEnvelope> stored = m_hub->store().readBefore(run, before, limit);
            out.reserve(stored.size());
            for (const StoredEnvelope &envelope : stored) {
                Event event;
                if (Codec::parseEnvelope(envelope.json, &event))
                    out.append(std::move(event));
            }
        },
        Qt::BlockingQueuedConnection);
    return out;
}

void ViewerFeed::onAccepted(const EventBatch &batch)
{
    if (m_fromStore)
        return; // the store has them; tick() reads them in order
    if (m_pending.size() + batch.size() > MaxPendingEvents) {
        // The viewer is not keeping up: let go of the memory, read back from the store later,
        // starting after the last event actually handed over.
        if (!m_pending.isEmpty())
            m_cursor = m_pending.first().seq - 1;
        m_pending = EventBatch();
        m_fromStore = true;
        return;
    }
    m_pending.append(batch);
    m_cursor = batch.last().seq;
}

EventBatch ViewerFeed::readStored(int limit)
{
    EventBatch out;
    const QVector<StoredEnvelope> stored = m_hub->store().readAll(m_cursor, limit, qint64(64) * 1024 * 1024);
    out.reserve(stored.size());
    for (const StoredEnvelope &envelope : stored) {
        Event event;
        if (Codec::parseEnvelope(envelope.json, &event))
            out.append(std::move(event));
        m_cursor = envelope.seq;
    }
    return out;
}

void ViewerFeed::tick()
{
    if (++m_statusTick % 15 == 0) {
        // About twice a second: clients, rate over the last few seconds, last seq.
        const qint64 now = m_rateClock.elapsed();
        const qint64 ingested = m_hub->counters().eventsIngested;
        m_rateSamples.emplace_back(now, ingested);
        while (m_rateSamples.size() > 2 && now - m_rateSamples.front().first > 3000)
            m_rateSamples.pop_front();
        Status s;
        s.clients = m_clientCount ? m_clientCount() : 0;
        s.lastSeq = m_hub->lastSeq();
        s.eventsIngested = ingested;
        if (m_rateSamples.size() >= 2) {
            const auto &first = m_rateSamples.front();
            const double seconds = double(now - first.first) / 1000.0;
            s.eventsPerSecond = seconds > 0 ? double(ingested - first.second) / seconds : 0;
        }
        Q_EMIT status(s);
    }
    if (m_inFlight.load(std::memory_order_acquire))
        return;
    EventBatch batch;
    if (m_fromStore) {
        batch = readStored(MaxBatchEvents);
        if (m_cursor >= m_hub->lastSeq())
            m_fromStore = false; // caught up: live events go through m_pending again
        // Events the store pruned before we read them are gone for the viewer too.
        if (batch.isEmpty() && m_fromStore) {
            m_cursor = m_hub->lastSeq();
            m_fromStore = false;
        }
    } else if (!m_pending.isEmpty()) {
        if (m_pending.size() <= MaxBatchEvents) {
            batch.swap(m_pending);
        } else {
            batch = m_pending.mid(0, MaxBatchEvents);
            m_pending.remove(0, MaxBatchEvents);
        }
    }
    if (batch.isEmpty())
        return;
    m_inFlight.store(true, std::memory_order_release);
    Q_EMIT events(batch);
}

} // namespace Runwatch
