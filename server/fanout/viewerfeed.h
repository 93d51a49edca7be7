#pragma once

#include "event.h"

#include <QElapsedTimer>
#include <QJsonValue>
#include <QObject>
#include <QTimer>

#include <atomic>
#include <deque>
#include <functional>

namespace Runwatch {

class Hub;

// Feeds an in-process viewer (the desktop window) from the Hub. Lives on the server thread and
// never waits for the viewer: events are handed over in batches, at most once per interval and
// only when the viewer has taken the previous batch (consumed()). While the viewer is busy, events
// wait here up to a bound; past it they are dropped from memory and read back from the store once
// the viewer is ready again, so the viewer misses nothing the store still holds and the server's
// memory stays bounded whatever the viewer does. History already stored when the feed starts is
// delivered the same way, oldest first.
class ViewerFeed : public QObject
{
    Q_OBJECT
public:
    struct Status {
        int clients = 0;
        double eventsPerSecond = 0;
        qint64 lastSeq = 0;
        qint64 eventsIngested = 0;
    };

    // `clientCount` tells how many WebSocket clients are connected (for the status bar).
    ViewerFeed(Hub *hub, std::function<int()> clientCount, QObject *parent = nullptr);

    // Thread-safe: the viewer has applied the last batch and can take the next one.
    void consumed() { m_inFlight.store(false, std::memory_order_release); }
    // Thread-safe: deletes a run and its history (runRemoved follows, as for DELETE /api/runs/{run}).
    void requestRemoveRun(const QString &run);
    // Publishes events (one object or an array) as a producer would; waits for the server
    // thread and returns its error message, empty on success. Never call it on the server thread.
    QString publish(const QJsonValue &events);
    // Reads up to `limit` stored events just below seq `before` (of one run, or all when run is
    // empty), ascending; waits for the server thread, which answers between two publishes.
    EventBatch readBefore(const QString &run, qint64 before, int limit);

    static constexpr int IntervalMs = 33;
    static constexpr int MaxPendingEvents = 200000;
    static constexpr int MaxBatchEvents = 50000;

Q_SIGNALS:
    void events(const Runwatch::EventBatch &batch);
    void runRemoved(const QString &run);
    void status(const Runwatch::ViewerFeed::Status &status);

private:
    void onAccepted(const EventBatch &batch);
    void tick();
    EventBatch readStored(int limit);

    Hub *m_hub;
    std::function<int()> m_clientCount;
    QTimer m_timer;
    EventBatch m_pending;
    qint64 m_cursor = 0;        // highest seq handed to the viewer (or waiting in m_pending)
    bool m_fromStore = true;    // catching up from the store instead of m_pending
    std::atomic<bool> m_inFlight{false};
    QElapsedTimer m_rateClock;
    std::deque<std::pair<qint64, qint64>> m_rateSamples; // (ms, events ingested)
    int m_statusTick = 0;
};

} // namespace Runwatch

Q_DECLARE_METATYPE(Runwatch::ViewerFeed::Status)
