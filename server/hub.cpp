#include "hub.h"

#include "codec.h"

#include <QDataStream>
#include <QDateTime>
#include <QJsonArray>
#include <QSet>

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

Hub::Hub(const ServerConfig &config, std::unique_ptr<EventStore> store, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_store(std::move(store))
    , m_history(m_store.get(), config.recentPointsBytes)
    , m_seq(m_store->lastSeq())
{
    qRegisterMetaType<Runwatch::Event>();
    qRegisterMetaType<Runwatch::EventBatch>();
    // Runs, their derived state and series come back from what the store kept: from the snapshot
    // of the last clean stop if there is one, plus the events after it; else from every event.
    m_history.load();
    qint64 cursor = 0;
    qint64 snapshotSeq = 0;
    const QByteArray snapshot = m_store->loadSnapshot(&snapshotSeq);
    if (!snapshot.isEmpty()) {
        if (snapshotSeq <= m_store->lastSeq() && restoreSnapshot(snapshot))
            cursor = snapshotSeq;
        else
            m_runs.clear();
    }
    m_restoredFromSnapshot = cursor > 0;
    for (;;) {
        const QVector<StoredEnvelope> page = m_store->readAll(cursor, 20000, qint64(64) * 1024 * 1024);
        if (page.isEmpty())
            break;
        for (const StoredEnvelope &stored : page) {
            Event event;
            if (Codec::parseEnvelope(stored.json, &event))
                runFor(event.run).apply(event);
            cursor = stored.seq;
        }
    }
    m_restoredEvents = m_store->storedEvents();
}

Hub::~Hub() = default;

namespace {
constexpr quint32 SnapshotMagic = 0x52575332; // "RWS2": bump when RunState::save changes
}

RunState &Hub::runFor(const QString &id)
{
    auto [it, inserted] = m_runs.try_emplace(id, id);
    if (inserted)
        it->second.setPointSink(&m_history);
    return it->second;
}

QByteArray Hub::snapshot() const
{
    QByteArray blob;
    QDataStream out(&blob, QIODevice::WriteOnly);
    out.setVersion(QDataStream::Qt_6_4);
    out << SnapshotMagic << quint32(m_runs.size());
    for (const auto &entry : m_runs)
        entry.second.save(out);
    return blob;
}

bool Hub::restoreSnapshot(const QByteArray &blob)
{
    QDataStream in(blob);
    in.setVersion(QDataStream::Qt_6_4);
    quint32 magic = 0, count = 0;
    in >> magic >> count;
    if (magic != SnapshotMagic)
        return false;
    m_runs.clear();
    for (quint32 i = 0; i < count; ++i) {
        RunState state;
        if (!state.load(in))
            return false;
        const QString id = state.id();
        state.setPointSink(&m_history);
        m_runs.insert_or_assign(id, std::move(state));
    }
    return in.status() == QDataStream::Ok && in.atEnd();
}

bool Hub::saveSnapshot()
{
    flush();
    // Every point in a block first: the snapshot holds no points, and a start replays only what
    // came after it.
    if (!m_history.flushAll())
        return false;
    return m_store->saveSnapshot(m_seq, snapshot());
}

Error Hub::parseBatch(const QJsonValue &eventOrArray, int maxEventsPerPublish, qint64 now, EventBatch *out)
{
    EventBatch &batch = *out;
    if (eventOrArray.isArray()) {
        const QJsonArray array = eventOrArray.toArray();
        if (array.isEmpty())
            return Error{ErrorCode::InvalidEvent, QStringLiteral("no events to publish")};
        if (array.size() > maxEventsPerPublish)
            return Error{ErrorCode::TooLarge,
                         QStringLiteral("%1 events in one publish; the limit is %2").arg(array.size()).arg(maxEventsPerPublish)};
        batch.resize(array.size());
        for (qsizetype i = 0; i < array.size(); ++i) {
            if (Error e = Codec::parseEvent(array.at(i), now, &batch[i])) {
                e.message = QStringLiteral("event %1: %2").arg(i).arg(e.message);
                return e;
            }
        }
    } else {
        batch.resize(1);
        if (Error e = Codec::parseEvent(eventOrArray, now, &batch[0]))
            return e;
    }
    return {};
}

PublishResult Hub::publishJson(const QJsonValue &eventOrArray)
{
    EventBatch batch;
    const Error error = parseBatch(eventOrArray, m_config.maxEventsPerPublish, QDateTime::currentMSecsSinceEpoch(), &batch);
    return publishParsed(std::move(batch), error);
}

PublishResult Hub::publishParsed(EventBatch batch, const Error &parseError)
{
    if (parseError) {
        ++m_counters.publishRejected;
        return {parseError, {}, 0, {}};
    }
    return publish(std::move(batch));
}

// The runs a server holds and the metric names a run holds are bounded, so that a producer bug (a
// new run id or metric name per step) cannot grow memory without end. Checked before anything is
// stored: the publish is refused whole.
Error Hub::checkLimits(const EventBatch &events) const
{
    QSet<QString> newRuns;
    QHash<QString, int> metricKeys; // metric values in this batch, per run
    QHash<QString, int> stepEvents; // step events in this batch, per run
    for (const Event &event : events) {
        if (m_runs.find(event.run) == m_runs.end())
            newRuns.insert(event.run);
        if (event.kind == EventKind::Metric)
            metricKeys[event.run] += Codec::metricCount(event.data);
        else if (!event.step.isEmpty())
            ++stepEvents[event.run];
    }
    if (!newRuns.isEmpty() && qint64(m_runs.size()) + newRuns.size() > m_config.maxRuns)
        return Error(ErrorCode::TooLarge, QStringLiteral("the server holds %1 runs, its limit (--max-runs); delete finished "
                                                         "runs or raise the limit")
                                              .arg(m_runs.size()));
    for (auto it = metricKeys.cbegin(); it != metricKeys.cend(); ++it) {
        const auto run = m_runs.find(it.key());
        const int held = run == m_runs.end() ? 0 : run->second.metricCount();
        if (held + it.value() <= m_config.maxMetricsPerRun)
            continue; // cannot reach the limit even if every name is new
        // Close to the limit: count the names that are really new.
        QSet<QString> fresh;
        for (const Event &event : events) {
            if (event.run != it.key() || event.kind != EventKind::Metric)
                continue;
            Codec::forEachMetric(event.data, [&](const QString &name, double) {
                if (run == m_runs.end() || !run->second.hasMetric(name))
                    fresh.insert(name);
            });
        }
        if (held + fresh.size() > m_config.maxMetricsPerRun)
            return Error(ErrorCode::TooLarge, QStringLiteral("run \"%1\" would have %2 metric names; the limit is %3 "
                                                             "(--max-metrics-per-run)")
                                                  .arg(it.key())
                                                  .arg(held + fresh.size())
                                                  .arg(m_config.maxMetricsPerRun));
    }
    for (auto it = stepEvents.cbegin(); it != stepEvents.cend(); ++it) {
        const auto run = m_runs.find(it.key());
        const int held = run == m_runs.end() ? 0 : int(run->second.steps().size());
        if (held + it.value() <= m_config.maxStepsPerRun)
            continue;
        QSet<QString> fresh;
        for (const Event &event : events) {
            if (event.run == it.key() && !event.step.isEmpty() && (run == m_runs.end() || !run->second.hasStep(event.step)))
                fresh.insert(event.step);
        }
        if (held + fresh.size() > m_config.maxStepsPerRun)
            return Error(ErrorCode::TooLarge, QStringLiteral("run \"%1\" would have %2 steps; the limit is %3 "
                                                             "(--max-steps-per-run)")
                                                  .arg(it.key())
                                                  .arg(held + fresh.size())
                                                  .arg(m_config.maxStepsPerRun));
    }
    return {};
}

QJsonArray warningsJson(const QVector<PublishWarning> &warnings)
{
    QJsonArray out;
    for (const PublishWarning &w : warnings)
        out.append(QJsonObject{{QStringLiteral("index"), w.index}, {QStringLiteral("code"), w.code}, {QStringLiteral("message"), w.message}});
    return out;
}

QVector<PublishWarning> Hub::warningsFor(const EventBatch &events)
{
    QVector<PublishWarning> warnings;
    for (qsizetype i = 0; i < events.size(); ++i) {
        const Event &event = events.at(i);
        if (event.kind != EventKind::Other)
            continue;
        auto it = m_typeSuggestions.constFind(event.type);
        if (it == m_typeSuggestions.constEnd()) {
            if (m_typeSuggestions.size() >= 4096) // bounded: a producer may invent types without end
                m_typeSuggestions.clear();
            it = m_typeSuggestions.insert(event.type, Codec::suggestType(event.type));
        }
        if (it->isEmpty())
            continue;
        warnings.append(PublishWarning{int(i), QStringLiteral("UNKNOWN_TYPE"),
                                       QStringLiteral("unknown type \"%1\", stored as a custom event; did you mean \"%2\"?")
                                           .arg(event.type, *it)});
    }
    return warnings;
}

PublishResult Hub::publish(EventBatch events)
{
    if (events.isEmpty())
        return {};
    if (Error e = checkLimits(events)) {
        ++m_counters.limitRefused;
        ++m_counters.publishRejected;
        return {e, {}, 0, {}};
    }
    const QVector<PublishWarning> warnings = warningsFor(events);
    const qint64 before = m_seq;
    // Events that carry a producer id ("eid") already stored for their run are not stored again:
    // their ack names the seq they got the first time, so a producer may retry without duplicates.
    // Retries are rare, so the store is asked only when it refuses a batch for a known id.
    const bool anyEid = std::any_of(events.cbegin(), events.cend(), [](const Event &e) { return !e.eid.isEmpty(); });
    const EventBatch original = anyEid ? events : EventBatch();
    PublishResult result;
    QString storeError;
    for (bool askStore : {false, true}) {
        if (askStore) {
            events = original;
            m_seq = before;
        }
        result = PublishResult();
        result.seqs.reserve(events.size());
        QHash<QPair<QString, QString>, qint64> idsInBatch;
        bool anyDuplicate = false;
        for (Event &event : events) {
            qint64 existing = 0;
            if (!event.eid.isEmpty()) {
                const auto key = qMakePair(event.run, event.eid);
                existing = idsInBatch.value(key, 0);
                if (!existing && askStore)
                    existing = m_store->findEid(event.run, event.eid);
                if (!existing)
                    idsInBatch.insert(key, m_seq + 1);
            }
            if (existing) {
                event.seq = -existing; // a duplicate, taken out below
                result.seqs.append(existing);
                anyDuplicate = true;
                continue;
            }
            event.seq = ++m_seq;
            Codec::serializeEnvelope(&event);
            result.seqs.append(event.seq);
        }
        if (anyDuplicate) {
            events.erase(std::remove_if(events.begin(), events.end(), [](const Event &e) { return e.seq < 0; }), events.end());
            result.duplicates = int(result.seqs.size() - events.size());
        }
        if (events.isEmpty()) {
            m_counters.duplicatesIgnored += result.duplicates;
            result.warnings = warnings;
            return result;
        }
        bool knownEid = false;
        if (m_store->append(events, &storeError, &knownEid)) {
            storeError.clear();
            break;
        }
        if (!knownEid || askStore || !anyEid)
            break;
    }
    if (!storeError.isEmpty()) {
        m_seq = qMax(before, m_store->lastSeq());
        ++m_counters.publishRejected;
        return {Error{ErrorCode::StoreFailed, QStringLiteral("events not stored: %1").arg(storeError)}, {}, 0, {}};
    }
    m_counters.duplicatesIgnored += result.duplicates;
    for (const Event &event : events)
        runFor(event.run).apply(event);
    m_counters.eventsIngested += events.size();
    m_pending.append(events);
    scheduleFlush();
    Q_EMIT accepted(events);
    result.warnings = warnings;
    return result;
}

void Hub::scheduleFlush()
{
    if (m_flushScheduled)
        return;
    m_flushScheduled = true;
    // Everything accepted during this event-loop pass goes out together, as batch frames.
    QMetaObject::invokeMethod(this, &Hub::flush, Qt::QueuedConnection);
}

QVector<Hub::Chunk> Hub::chunksFor(const QVector<int> &indices) const
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

void Hub::deliver(const QVector<Subscription *> &subs, const QVector<int> &indices)
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

void Hub::flush()
{
    m_flushScheduled = false;
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
                                          .arg(m_config.maxQueueBytes));
    }
}

void Hub::checkLag(Subscriber *owner)
{
    if (m_config.maxQueueBytes > 0 && owner->queuedBytes() > m_config.maxQueueBytes
        && !m_cutting.contains(owner))
        m_cutting.append(owner);
}

QVector<Subscription *> *Hub::indexFor(Subscription::Target target, const QString &run)
{
    switch (target) {
    case Subscription::Target::All: return &m_all;
    case Subscription::Target::Lifecycle: return &m_lifecycle;
    case Subscription::Target::Run: break;
    }
    return &m_byRun[run];
}

Subscription *Hub::subscribe(Subscriber *owner, Subscription::Target target, const QString &run,
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
    sub->cursor = since < 0 ? m_seq : qMin(since, m_seq);
    Subscription *raw = sub.get();
    m_bySubscriber[owner].push_back(std::move(sub));
    indexFor(target, run)->append(raw);
    pump(raw);
    return raw;
}

void Hub::pump(Subscription *sub)
{
    Subscriber *owner = sub->owner;
    // Replay never pushes a subscriber past its bound: chunks of at most a quarter of it go out
    // while less than half of it is queued.
    const qint64 chunkBytes = m_config.maxQueueBytes > 0 ? qMin<qint64>(FrameBytes, m_config.maxQueueBytes / 4) : FrameBytes;
    const qint64 room = m_config.maxQueueBytes / 2;
    while (!sub->live) {
        if (m_config.maxQueueBytes > 0 && owner->queuedBytes() >= room)
            return; // continued by drained()
        QVector<StoredEnvelope> chunk;
        switch (sub->target) {
        case Subscription::Target::Run:
            chunk = m_store->readRun(sub->run, sub->cursor, ReplayChunkEvents, chunkBytes);
            break;
        case Subscription::Target::All:
            chunk = m_store->readAll(sub->cursor, ReplayChunkEvents, chunkBytes);
            break;
        case Subscription::Target::Lifecycle:
            chunk = m_store->readLifecycle(sub->cursor, ReplayChunkEvents, chunkBytes);
            break;
        }
        if (chunk.isEmpty()) {
            // Caught up: everything accepted so far is in the store, so live starts after m_seq.
            sub->cursor = qMax(sub->cursor, m_seq);
            sub->live = true;
            if (sub->announce) {
                QJsonObject subscribed{{QStringLiteral("type"), QStringLiteral("subscribed")},
                                       {QStringLiteral("run"), subscriptionName(*sub)},
                                       {QStringLiteral("last_seq"), double(m_seq)}};
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

void Hub::drained(Subscriber *owner)
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

void Hub::detach(Subscription *sub)
{
    QVector<Subscription *> *index = indexFor(sub->target, sub->run);
    index->removeOne(sub);
    if (sub->target == Subscription::Target::Run && index->isEmpty())
        m_byRun.remove(sub->run);
}

bool Hub::unsubscribe(Subscriber *owner, Subscription::Target target, const QString &run)
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

void Hub::removeSubscriber(Subscriber *owner)
{
    auto it = m_bySubscriber.find(owner);
    if (it == m_bySubscriber.end())
        return;
    for (const auto &sub : it->second)
        detach(sub.get());
    m_bySubscriber.erase(it);
    m_cutting.removeAll(owner);
}

QStringList Hub::subscriptionsOf(Subscriber *owner) const
{
    QStringList names;
    auto it = m_bySubscriber.find(owner);
    if (it == m_bySubscriber.end())
        return names;
    for (const auto &sub : it->second)
        names.append(subscriptionName(*sub));
    return names;
}

int Hub::subscriberCount(const QString &run) const
{
    return int(m_byRun.value(run).size());
}

bool Hub::removeRun(const QString &id, bool *storeFailed)
{
    if (storeFailed)
        *storeFailed = false;
    auto it = m_runs.find(id);
    if (it == m_runs.end())
        return false;
    flush();
    // A run whose events could not be deleted (a full or failing disk) stays, in memory as on
    // disk, rather than vanish now and come back at the next start.
    const qint64 errorsBefore = m_store->writeErrors();
    m_store->removeRun(id);
    if (m_store->writeErrors() != errorsBefore) {
        if (storeFailed)
            *storeFailed = true;
        return false;
    }
    m_runs.erase(it);
    m_history.removeRun(id);
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
    Q_EMIT runRemoved(id);
    return true;
}

QStringList Hub::applyRetention(qint64 nowMs)
{
    // Finished runs, oldest end first (ids and times copied: removing a run frees its state).
    QVector<QPair<qint64, QString>> finished;
    for (const auto &entry : m_runs) {
        const RunState &run = entry.second;
        if (run.isFinished())
            finished.append({run.endedMs() > 0 ? run.endedMs() : run.updatedMs(), run.id()});
    }
    std::sort(finished.begin(), finished.end());
    QStringList removed;
    const qint64 cutoff = m_config.retainDays > 0 ? nowMs - qint64(m_config.retainDays) * 86400000 : LLONG_MIN;
    for (const auto &[ended, id] : std::as_const(finished)) {
        const bool tooOld = ended < cutoff;
        const bool overCap = m_config.maxHistoryBytes > 0 && m_store->storedBytes() > m_config.maxHistoryBytes;
        if (!tooOld && !overCap)
            continue;
        if (removeRun(id))
            removed.append(id);
    }
    return removed;
}

const RunState *Hub::run(const QString &id) const
{
    auto it = m_runs.find(id);
    return it == m_runs.end() ? nullptr : &it->second;
}

QVector<const RunState *> Hub::runs() const
{
    QVector<const RunState *> list;
    list.reserve(int(m_runs.size()));
    for (const auto &entry : m_runs)
        list.append(&entry.second);
    std::sort(list.begin(), list.end(), [](const RunState *a, const RunState *b) {
        if (a->startedMs() != b->startedMs())
            return a->startedMs() > b->startedMs();
        return a->id() < b->id();
    });
    return list;
}

} // namespace Runwatch
