#include "ingest.h"

#include "codec.h"

#include <QDataStream>
#include <QJsonArray>
#include <QSet>

#include <algorithm>

namespace Runwatch {

Ingest::Ingest(const ServerConfig &config, std::unique_ptr<EventStore> store)
    : m_config(config)
    , m_store(std::move(store))
    , m_history(m_store.get(), config.recentPointsBytes)
    , m_seq(m_store->lastSeq())
{
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

namespace {
constexpr quint32 SnapshotMagic = 0x52575332; // "RWS2": bump when RunState::save changes
}

RunState &Ingest::runFor(const QString &id)
{
    auto [it, inserted] = m_runs.try_emplace(id, id);
    if (inserted)
        it->second.setPointSink(&m_history);
    return it->second;
}

QByteArray Ingest::snapshot() const
{
    QByteArray blob;
    QDataStream out(&blob, QIODevice::WriteOnly);
    out.setVersion(QDataStream::Qt_6_4);
    out << SnapshotMagic << quint32(m_runs.size());
    for (const auto &entry : m_runs)
        entry.second.save(out);
    return blob;
}

bool Ingest::restoreSnapshot(const QByteArray &blob)
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

Error Ingest::parseBatch(const QJsonValue &eventOrArray, int maxEventsPerPublish, qint64 now, EventBatch *out)
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

Error Ingest::checkLimits(const EventBatch &events) const
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

QVector<PublishWarning> Ingest::warningsFor(const EventBatch &events)
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

bool Ingest::saveSnapshot()
{
    // Every point in a block first: the snapshot holds no points, and a start replays only what
    // came after it.
    if (!m_history.flushAll())
        return false;
    return m_store->saveSnapshot(m_seq, snapshot());
}

PublishResult Ingest::accept(EventBatch *accepted)
{
    EventBatch &events = *accepted;
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
    result.warnings = warnings;
    return result;
}

bool Ingest::removeRun(const QString &id, bool *storeFailed)
{
    *storeFailed = false;
    auto it = m_runs.find(id);
    if (it == m_runs.end())
        return false;
    // A run whose events could not be deleted (a full or failing disk) stays, in memory as on
    // disk, rather than vanish now and come back at the next start.
    const qint64 errorsBefore = m_store->writeErrors();
    m_store->removeRun(id);
    if (m_store->writeErrors() != errorsBefore) {
        *storeFailed = true;
        return false;
    }
    m_runs.erase(it);
    m_history.removeRun(id);
    return true;
}

const RunState *Ingest::run(const QString &id) const
{
    auto it = m_runs.find(id);
    return it == m_runs.end() ? nullptr : &it->second;
}

QVector<const RunState *> Ingest::runs() const
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
