#include "ratelimit.h"

#include <QElapsedTimer>

#include <algorithm>
#include <cmath>

namespace Runwatch {

qint64 monotonicNs()
{
    static QElapsedTimer clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return clock.nsecsElapsed();
}

TokenBucket::TokenBucket(double rate, double burst)
    : m_rate(rate)
    , m_burst(burst)
    , m_tokens(burst)
{
}

void TokenBucket::refill(qint64 nowNs)
{
    if (m_lastNs >= 0 && nowNs > m_lastNs)
        m_tokens = std::min(m_burst, m_tokens + m_rate * double(nowNs - m_lastNs) / 1e9);
    if (nowNs > m_lastNs)
        m_lastNs = nowNs;
}

qint64 TokenBucket::waitFor(double amount, qint64 nowNs)
{
    if (m_rate <= 0)
        return 0;
    refill(nowNs);
    if (m_tokens >= amount)
        return 0;
    return std::max<qint64>(1, qint64(std::ceil((amount - m_tokens) / m_rate * 1000.0)));
}

bool TokenBucket::full(qint64 nowNs)
{
    if (m_rate <= 0)
        return true;
    refill(nowNs);
    return m_tokens >= m_burst;
}

ProducerLimiter::ProducerLimiter(qint64 eventsPerSecond, qint64 bytesPerSecond, qint64 maxEventsPerPublish,
                                 qint64 maxMessageBytes)
    : m_events(double(eventsPerSecond), double(std::max(2 * eventsPerSecond, maxEventsPerPublish)))
    , m_bytes(double(bytesPerSecond), double(std::max(2 * bytesPerSecond, maxMessageBytes)))
    , m_maxEventsPerPublish(maxEventsPerPublish)
{
}

qint64 ProducerLimiter::admit(qint64 events, qint64 bytes, qint64 nowNs)
{
    if (m_maxEventsPerPublish > 0 && events > m_maxEventsPerPublish)
        return 0;
    const qint64 wait = std::max(m_events.waitFor(double(events), nowNs), m_bytes.waitFor(double(bytes), nowNs));
    if (wait > 0)
        return wait;
    if (m_events.limited())
        m_events.take(double(events));
    if (m_bytes.limited())
        m_bytes.take(double(bytes));
    return 0;
}

bool ProducerLimiter::idle(qint64 nowNs)
{
    return m_events.full(nowNs) && m_bytes.full(nowNs);
}

LimiterTable::LimiterTable(qint64 eventsPerSecond, qint64 bytesPerSecond, qint64 maxEventsPerPublish,
                           qint64 maxMessageBytes, int capacity)
    : m_eventsPerSecond(eventsPerSecond)
    , m_bytesPerSecond(bytesPerSecond)
    , m_maxEventsPerPublish(maxEventsPerPublish)
    , m_maxMessageBytes(maxMessageBytes)
    , m_capacity(std::max(1, capacity))
{
}

qint64 LimiterTable::admit(const QString &key, qint64 events, qint64 bytes, qint64 nowNs)
{
    if (m_eventsPerSecond <= 0 && m_bytesPerSecond <= 0)
        return 0;
    auto it = m_limiters.find(key);
    if (it == m_limiters.end()) {
        if (m_limiters.size() >= m_capacity) {
            // A producer whose bucket is full again has no debt to remember.
            for (auto old = m_limiters.begin(); old != m_limiters.end();)
                old = old.value().idle(nowNs) ? m_limiters.erase(old) : std::next(old);
            if (m_limiters.size() >= m_capacity)
                m_limiters.erase(m_limiters.begin());
        }
        it = m_limiters.insert(key, ProducerLimiter(m_eventsPerSecond, m_bytesPerSecond, m_maxEventsPerPublish, m_maxMessageBytes));
    }
    return it.value().admit(events, bytes, nowNs);
}

QString rateLimitedMessage(qint64 eventsPerSecond, qint64 bytesPerSecond, const QString &who, qint64 waitMs)
{
    return QStringLiteral("over the limit of %1 events/s and %2 bytes/s for %3; nothing was stored, send it again in %4 ms")
        .arg(eventsPerSecond)
        .arg(bytesPerSecond)
        .arg(who)
        .arg(waitMs);
}

} // namespace Runwatch
