#include "fanout.h"

#include "codec.h"
#include "eventstore.h"

#include <QJsonObject>

#include <algorithm>

namespace Runwatch {

namespace {

constexpr int ReplayChunkEvents = 2000;
constexpr qint64 FrameBytes = 512 * 1024;

QString subscriptionName(const Subscription &sub)
{
    switch (sub.target) {
    case Subscription::Target::All: return QStringLiteral("*");
    case Subscription::Target::Lifecycle: return QStringLiteral("runs");
    case Subscription::Target::Run: break;
    }
    return sub.run;
}

QByteArray frameOf(const QVector<QByteArray> &envelopes)
{
    if (envelopes.size() == 1)
        return envelopes.first();
    return Codec::batchFrame(envelopes);
}

} // namespace

Fanout::Fanout(const ServerConfig &config, const EventStore &store, std::function<qint64()> lastSeq)
    : m_maxQueueBytes(config.maxQueueBytes)
    , m_store(store)
    , m_lastSeq(std::move(lastSeq))
{
}

void Fanout::enqueue(const EventBatch &events)
{
    m_pending.append(events);
}

QVector<Fanout::Chunk> Fanout::chunksFor(const QVector<int> &indices) const
{
    QVector<Chunk> chunks;
    QVector<QByteArray> envelopes;
    qint64 bytes = 0;
    qint64 first = 0;
    auto close = [&](qint64 last) {
        chunks.append(Chunk{frameOf(envelopes), first, last});
        envelopes.clear();
        bytes = 0;
    };
    for (int i : indices) {
        const Event &event = m_pending.at(i);
        if (envelopes.isEmpty())
            first = event.seq;
        envelopes.append(event.envelope);
        bytes += event.envelope.size();
        if (bytes >= FrameBytes)
            close(event.seq);
    }
    if (!envelopes.isEmpty())
        close(m_pending.at(indices.last()).seq);
    return chunks;
}

void Fanout::deliver(const QVector<Subscription *> &subs, const QVector<int> &indices)
{
    if (subs.isEmpty() || indices.isEmpty())
        return;
    QVector<Chunk> shared;
    const qint64 firstSeq = m_pending.at(indices.first()).seq;
    const qint64 lastSeq = m_pending.at(indices.last()).seq;
    for (Subscription *sub : subs) {
        if (!sub->live || sub->cursor >= lastSeq)
            continue;
        QVector<Chunk> own;
        const QVector<Chunk> *chunks = &shared;
        if (sub->cursor >= firstSeq) {
            // Replay already covered part of this pass: send only what is newer.
            QVector<int> newer;
            for (int i : indices) {
                if (m_pending.at(i).seq > sub->cursor)
                    newer.append(i);
            }
            own = chunksFor(newer);
            chunks = &own;
        } else if (shared.isEmpty()) {
            shared = chunksFor(indices);
        }
        for (const Chunk &chunk : *chunks) {
            sub->owner->sendFrame(chunk.frame);
            ++m_counters.framesSent;
        }
        m_counters.deliveries += indices.size();
        sub->cursor = lastSeq;
        checkLag(sub->owner);
    }
}

void Fanout::flush()
{
    if (m_pending.isEmpty())
        return;
    // Group by run, keeping acceptance order inside each group.
    QHash<QString, QVector<int>> byRun;
    QVector<QString> runOrder;
    QVector<int> all, lifecycle;
    all.reserve(m_pending.size());
    for (int i = 0; i < m_pending.size(); ++i) {
        const Event &event = m_pending.at(i);
        all.append(i);
        if (isLifecycle(event.kind))
            lifecycle.append(i);
        if (!m_byRun.contains(event.run))
            continue;
        auto it = byRun.find(event.run);
        if (it == byRun.end()) {
            it = byRun.insert(event.run, {});
            runOrder.append(event.run);
        }
        it->append(i);
    }
    for (const QString &run : runOrder)
        deliver(m_byRun.value(run), byRun.value(run));
    deliver(m_all, all);
    deliver(m_lifecycle, lifecycle);
    m_pending.clear();

    const QVector<Subscriber *> cutting = std::exchange(m_cutting, {});
    for (Subscriber *owner : cutting) {
        ++m_counters.laggingDropped;
        removeSubscriber(owner);
        owner->cutLoose(CloseLagging, QStringLiteral("lagging: more than %1 bytes unsent")
                                          .arg(m_maxQueueBytes));
    }
}

void Fanout::checkLag(Subscriber *owner)
{
    if (m_maxQueueBytes > 0 && owner->queuedBytes() > m_maxQueueBytes
        && !m_cutting.contains(owner))
        m_cutting.append(owner);
}

QVector<Subscription *> *Fanout::indexFor(Subscription::Target target, const QString &run)
{
    switch (target) {
    case Subscription::Target::All: return &m_all;
    case Subscription::Target::Lifecycle: return &m_lifecycle;
    case Subscription::Target::Run: break;
    }
    return &m_byRun[run];
}

Subscription *Fanout::subscribe(Subscriber *owner, Subscription::Target target, const QString &run,
                             qint64 since, bool announce, const QJsonValue &announceId)
{
    unsubscribe(owner, target, run);
    auto sub = std::make_unique<Subscription>();
    sub->owner = owner;
    sub->target = target;
    sub->run = run;
    sub->announce = announce;
    sub->announceId = announceId;
    // Live only, or a cursor at or past the last seq: nothing to replay, every later event comes.
    sub->cursor = since < 0 ? m_lastSeq() : qMin(since, m_lastSeq());
    Subscription *raw = sub.get();
    m_bySubscriber[owner].push_back(std::move(sub));
    indexFor(target, run)->append(raw);
    pump(raw);
    return raw;
}

void Fanout::pump(Subscription *sub)
{
    Subscriber *owner = sub->owner;
    // Replay never pushes a subscriber past its bound: chunks of at most a quarter of it go out
    // while less than half of it is queued.
    const qint64 chunkBytes = m_maxQueueBytes > 0 ? qMin<qint64>(FrameBytes, m_maxQueueBytes / 4) : FrameBytes;
    const qint64 room = m_maxQueueBytes / 2;
    while (!sub->live) {
        if (m_maxQueueBytes > 0 && owner->queuedBytes() >= room)
            return; // continued by drained()
        QVector<StoredEnvelope> chunk;
        switch (sub->target) {
        case Subscription::Target::Run:
            chunk = m_store.readRun(sub->run, sub->cursor, ReplayChunkEvents, chunkBytes);
            break;
        case Subscription::Target::All:
            chunk = m_store.readAll(sub->cursor, ReplayChunkEvents, chunkBytes);
            break;
        case Subscription::Target::Lifecycle:
            chunk = m_store.readLifecycle(sub->cursor, ReplayChunkEvents, chunkBytes);
            break;
        }
        if (chunk.isEmpty()) {
            // Caught up: everything accepted so far is in the store, so live starts after the last seq.
            sub->cursor = qMax(sub->cursor, m_lastSeq());
            sub->live = true;
            if (sub->announce) {
                QJsonObject subscribed{{QStringLiteral("type"), QStringLiteral("subscribed")},
                                       {QStringLiteral("run"), subscriptionName(*sub)},
                                       {QStringLiteral("last_seq"), double(m_lastSeq())}};
                if (!sub->announceId.isUndefined() && !sub->announceId.isNull())
                    subscribed.insert(QStringLiteral("id"), sub->announceId);
                owner->sendFrame(Codec::compact(subscribed));
            }
            return;
        }
        QVector<QByteArray> envelopes;
        envelopes.reserve(chunk.size());
        for (const StoredEnvelope &stored : chunk)
            envelopes.append(stored.json);
        owner->sendFrame(frameOf(envelopes));
        ++m_counters.framesSent;
        sub->cursor = chunk.last().seq;
    }
}

void Fanout::drained(Subscriber *owner)
{
    auto it = m_bySubscriber.find(owner);
    if (it == m_bySubscriber.end())
        return;
    QVector<Subscription *> waiting;
    for (const auto &sub : it->second) {
        if (!sub->live)
            waiting.append(sub.get());
    }
    for (Subscription *sub : waiting)
        pump(sub);
}

void Fanout::detach(Subscription *sub)
{
    QVector<Subscription *> *index = indexFor(sub->target, sub->run);
    index->removeOne(sub);
    if (sub->target == Subscription::Target::Run && index->isEmpty())
        m_byRun.remove(sub->run);
}

bool Fanout::unsubscribe(Subscriber *owner, Subscription::Target target, const QString &run)
{
    auto it = m_bySubscriber.find(owner);
    if (it == m_bySubscriber.end())
        return false;
    auto &subs = it->second;
    for (auto s = subs.begin(); s != subs.end(); ++s) {
        if ((*s)->target == target && (target != Subscription::Target::Run || (*s)->run == run)) {
            detach(s->get());
            subs.erase(s);
            return true;
        }
    }
    return false;
}

void Fanout::removeSubscriber(Subscriber *owner)
{
    auto it = m_bySubscriber.find(owner);
    if (it == m_bySubscriber.end())
        return;
    for (const auto &sub : it->second)
        detach(sub.get());
    m_bySubscriber.erase(it);
    m_cutting.removeAll(owner);
}

QStringList Fanout::subscriptionsOf(Subscriber *owner) const
{
    QStringList names;
    auto it = m_bySubscriber.find(owner);
    if (it == m_bySubscriber.end())
        return names;
    for (const auto &sub : it->second)
        names.append(subscriptionName(*sub));
    return names;
}

int Fanout::subscriberCount(const QString &run) const
{
    return int(m_byRun.value(run).size());
}

void Fanout::runRemoved(const QString &id)
{
    const QByteArray notice =
        Codec::compact(QJsonObject{{QStringLiteral("type"), QStringLiteral("run_deleted")}, {QStringLiteral("run"), id}});
    QVector<Subscriber *> told;
    const QVector<Subscription *> targets = m_byRun.value(id) + m_all + m_lifecycle;
    for (Subscription *sub : targets) {
        if (!told.contains(sub->owner)) {
            told.append(sub->owner);
            sub->owner->sendFrame(notice);
        }
    }
}

} // namespace Runwatch
