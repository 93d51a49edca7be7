#pragma once

#include <QHash>
#include <QString>
#include <QtGlobal>

namespace Runwatch {

// A token bucket: `rate` tokens a second, holding at most `burst`. A producer may publish in
// bursts up to `burst` and at `rate` on average. A rate of 0 means no limit.
class TokenBucket
{
public:
    TokenBucket() = default;
    TokenBucket(double rate, double burst);

    // Milliseconds until `amount` tokens are there (0: they are there now). Takes nothing.
    qint64 waitFor(double amount, qint64 nowNs);
    void take(double amount) { m_tokens -= amount; }
    bool full(qint64 nowNs);
    bool limited() const { return m_rate > 0; }

private:
    void refill(qint64 nowNs);
    double m_rate = 0;
    double m_burst = 0;
    double m_tokens = 0;
    qint64 m_lastNs = -1;
};

// The publishing budget of one producer: events a second and bytes a second. A publish is let
// through whole or not at all, so a refused one costs nothing and may be sent again unchanged.
class ProducerLimiter
{
public:
    ProducerLimiter() = default;
    // Bursts of two seconds' worth are let through, and never less than one publish of the
    // largest allowed size, so that every valid publish can pass eventually.
    ProducerLimiter(qint64 eventsPerSecond, qint64 bytesPerSecond, qint64 maxEventsPerPublish, qint64 maxMessageBytes);

    // 0 when the publish may go (its cost is then taken), else the milliseconds to wait. A publish
    // of more events than one may hold is let through at no cost: it is refused for its size, which
    // waiting would not change.
    qint64 admit(qint64 events, qint64 bytes, qint64 nowNs);
    bool idle(qint64 nowNs);

private:
    TokenBucket m_events;
    TokenBucket m_bytes;
    qint64 m_maxEventsPerPublish = 0;
};

// The message of a RATE_LIMITED answer; `who` names the producer.
QString rateLimitedMessage(qint64 eventsPerSecond, qint64 bytesPerSecond, const QString &who, qint64 waitMs);

// Limiters keyed by the producer's address (HTTP producers, whose connections come and go).
// Bounded: past `capacity` entries, the ones whose buckets are full again are forgotten, and if
// none is, the oldest entry goes.
class LimiterTable
{
public:
    LimiterTable(qint64 eventsPerSecond, qint64 bytesPerSecond, qint64 maxEventsPerPublish, qint64 maxMessageBytes,
                 int capacity = 4096);
    qint64 admit(const QString &key, qint64 events, qint64 bytes, qint64 nowNs);
    int size() const { return int(m_limiters.size()); }

private:
    qint64 m_eventsPerSecond;
    qint64 m_bytesPerSecond;
    qint64 m_maxEventsPerPublish;
    qint64 m_maxMessageBytes;
    int m_capacity;
    QHash<QString, ProducerLimiter> m_limiters;
};

qint64 monotonicNs();

} // namespace Runwatch
