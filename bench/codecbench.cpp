// Per-event cost of the JSON codec on the server's hot paths, called as the server calls it:
//  - parsing a publish op (one event, and a batch of 100): Codec::parseJson, then the op's
//    "event"/"events" and Codec::parseEvent per event (WsClient::onText and Hub::publishJson),
//    from a WebSocket text frame (QString, converted to UTF-8 first) and from bytes (a REST body);
//  - building the envelope every consumer reads (Codec::serializeEnvelope, once per event);
//  - a batch frame of 100 envelopes (Codec::batchFrame), alone and with the QString round trip
//    the hub and QWebSocket add before the frame reaches the socket;
//  - reading an envelope back from the store (Codec::parseEnvelope, start-up replay);
//  - an RFC 3339 timestamp parsed (Codec::parseTimestamp: a producer's "ts" string, every envelope
//    read back) and written (Codec::formatTimestamp: every envelope), beside QDateTime doing it.
// Each has a plain Qt baseline (QJsonDocument::fromJson / toJson doing the same JSON work without
// validation), so the codec's overhead shows as a ratio. Events are metric events shaped as the
// Python SDK sends them: {"run","type":"metric","data":{"step","loss","lr"},"ts","eid"}.
//
//   runwatch_codecbench [--min-ms MS] [--repeat R]
//
// Each case runs for at least MS milliseconds (default 300), R times (default 5); the median is
// printed as ns/event and events/s of this thread's CPU time (what the work costs, which a busy
// machine inflates little), and the median ns/event of wall time beside it.

#include "codec.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>
#include <vector>

using namespace Runwatch;

namespace {

constexpr qint64 BaseTsMs = 1700000000000;

QByteArray eventJson(qint64 i)
{
    const double loss = 2.0 / double(i + 1) + 0.3123456789;
    return "{\"run\":\"bench-run-1\",\"type\":\"metric\",\"data\":{\"step\":" + QByteArray::number(i)
        + ",\"loss\":" + QByteArray::number(loss, 'g', 17) + ",\"lr\":0.0003},\"ts\":"
        + QByteArray::number(double(BaseTsMs + i * 7) / 1000.0, 'f', 3) + ",\"eid\":\"a1b2c3d4-" + QByteArray::number(i) + "\"}";
}

// {"op":"publish","id":N,"event":{...}} for one event, {"op":"publish","id":N,"events":[...]} for more.
QByteArray publishOp(qint64 first, int count)
{
    QByteArray out = "{\"op\":\"publish\",\"id\":" + QByteArray::number(first);
    if (count == 1)
        return out + ",\"event\":" + eventJson(first) + '}';
    out += ",\"events\":[";
    for (int i = 0; i < count; ++i) {
        if (i)
            out += ',';
        out += eventJson(first + i);
    }
    return out + "]}";
}

Event metricEvent(qint64 i)
{
    Event e;
    e.seq = i + 1;
    e.run = QStringLiteral("bench-run-1");
    e.type = QStringLiteral("metric");
    e.kind = EventKind::Metric;
    e.tsMs = BaseTsMs + i * 7;
    e.data = QJsonObject{{QStringLiteral("step"), double(i)},
                         {QStringLiteral("loss"), 2.0 / double(i + 1) + 0.3123456789},
                         {QStringLiteral("lr"), 0.0003}};
    return e;
}

// The same envelope as a QJsonObject, for the toJson baseline.
QJsonObject envelopeObject(const Event &e)
{
    return QJsonObject{{QStringLiteral("seq"), double(e.seq)},
                       {QStringLiteral("run"), e.run},
                       {QStringLiteral("type"), e.type},
                       {QStringLiteral("ts"), Codec::formatTimestamp(e.tsMs)},
                       {QStringLiteral("data"), e.data}};
}

volatile qint64 g_sink = 0;

struct Options {
    qint64 minNs = 300 * 1000000LL;
    int repeat = 5;
};

qint64 threadCpuNs()
{
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return qint64(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

struct Cost {
    double cpuNs = 0;  // per event, this thread's CPU time
    double wallNs = 0; // per event, wall time
};

// Runs `body` (which handles `eventsPerCall` events per call) until minNs of CPU time have passed,
// `repeat` times; returns the medians per event.
Cost measure(const Options &o, int eventsPerCall, const std::function<void()> &body)
{
    std::vector<double> cpu, wall;
    for (int r = 0; r < o.repeat; ++r) {
        QElapsedTimer clock;
        clock.start();
        const qint64 cpuStart = threadCpuNs();
        qint64 calls = 0;
        qint64 elapsed = 0;
        do {
            for (int k = 0; k < 16; ++k)
                body();
            calls += 16;
            elapsed = threadCpuNs() - cpuStart;
        } while (elapsed < o.minNs);
        cpu.push_back(double(elapsed) / double(calls * eventsPerCall));
        wall.push_back(double(clock.nsecsElapsed()) / double(calls * eventsPerCall));
    }
    std::sort(cpu.begin(), cpu.end());
    std::sort(wall.begin(), wall.end());
    return {cpu[cpu.size() / 2], wall[wall.size() / 2]};
}

void row(const char *name, const Cost &cost, const Cost &baseline = Cost())
{
    std::printf("%-58s %7.0f ns/event %10.0f events/s  (wall %7.0f ns)", name, cost.cpuNs, 1e9 / cost.cpuNs, cost.wallNs);
    if (baseline.cpuNs > 0)
        std::printf("   %.2fx of plain Qt", cost.cpuNs / baseline.cpuNs);
    std::printf("\n");
    std::fflush(stdout);
}

int fail(const char *what)
{
    std::fprintf(stderr, "codecbench: %s\n", what);
    return 1;
}

// The server's parse path for one publish op: parseJson, the op's payload, parseEvent per event.
bool parseOp(const QByteArray &utf8, qint64 receivedMs, EventBatch *batch)
{
    Error error;
    const QJsonDocument doc = Codec::parseJson(utf8, &error);
    if (error || !doc.isObject())
        return false;
    const QJsonObject op = doc.object();
    if (op.value(QLatin1String("op")).toString() != QLatin1String("publish"))
        return false;
    QJsonValue payload;
    if (op.contains(QLatin1String("events")))
        payload = op.value(QLatin1String("events"));
    else
        payload = op.value(QLatin1String("event"));
    if (payload.isArray()) {
        const QJsonArray array = payload.toArray();
        batch->resize(array.size());
        for (qsizetype i = 0; i < array.size(); ++i) {
            if (Codec::parseEvent(array.at(i), receivedMs, &(*batch)[i]))
                return false;
        }
    } else {
        batch->resize(1);
        if (Codec::parseEvent(payload, receivedMs, &(*batch)[0]))
            return false;
    }
    return true;
}

// The plain baseline: the same text through QJsonDocument, every event object visited.
qint64 plainParse(const QByteArray &utf8)
{
    const QJsonDocument doc = QJsonDocument::fromJson(utf8);
    const QJsonObject op = doc.object();
    const QJsonValue events = op.value(QLatin1String("events"));
    if (events.isArray()) {
        qint64 n = 0;
        for (const QJsonValue &v : events.toArray())
            n += v.toObject().value(QLatin1String("data")).toObject().size();
        return n;
    }
    return op.value(QLatin1String("event")).toObject().value(QLatin1String("data")).toObject().size();
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Per-event cost of the Runwatch JSON codec"));
    parser.addHelpOption();
    parser.addOptions({{QStringLiteral("min-ms"), QStringLiteral("minimum time per measurement"), QStringLiteral("MS"), QStringLiteral("300")},
                       {QStringLiteral("repeat"), QStringLiteral("measurements per case (median printed)"), QStringLiteral("R"), QStringLiteral("5")}});
    parser.process(app);
    Options o;
    o.minNs = qMax<qint64>(1, parser.value(QStringLiteral("min-ms")).toLongLong()) * 1000000LL;
    o.repeat = qMax(1, parser.value(QStringLiteral("repeat")).toInt());

    // Inputs, checked once so the timed loops measure work that succeeds.
    const QByteArray op1 = publishOp(1000, 1);
    const QByteArray op100 = publishOp(1000, 100);
    const QString op1Text = QString::fromUtf8(op1);
    const QString op100Text = QString::fromUtf8(op100);
    EventBatch batch;
    if (!parseOp(op1, BaseTsMs, &batch) || batch.size() != 1 || !parseOp(op100, BaseTsMs, &batch) || batch.size() != 100
        || batch.last().eid.isEmpty())
        return fail("the publish ops do not parse");
    std::vector<Event> events;
    QVector<QByteArray> envelopes;
    QJsonArray envelopeArray;
    for (qint64 i = 0; i < 100; ++i) {
        events.push_back(metricEvent(1000 + i));
        Event copy = events.back();
        Codec::serializeEnvelope(&copy);
        envelopes.append(copy.envelope);
        envelopeArray.append(envelopeObject(copy));
    }
    {
        Event back;
        if (!Codec::parseEnvelope(envelopes.first(), &back) || back.seq != events.front().seq || back.data != events.front().data)
            return fail("an envelope does not read back");
    }
    std::printf("publish op: 1 event %lld bytes, 100 events %lld bytes (%lld per event); envelope %lld bytes\n",
                static_cast<long long>(op1.size()), static_cast<long long>(op100.size()), static_cast<long long>(op100.size() / 100),
                static_cast<long long>(envelopes.first().size()));
    std::printf("each figure: median of %d runs of at least %lld ms of CPU time\n\n", o.repeat, static_cast<long long>(o.minNs / 1000000));

    // Parse.
    for (int n : {1, 100}) {
        const QByteArray &bytes = n == 1 ? op1 : op100;
        const QString &text = n == 1 ? op1Text : op100Text;
        const Cost plain = measure(o, n, [&] { g_sink += plainParse(bytes); });
        const Cost fromBytes = measure(o, n, [&] {
            EventBatch b;
            g_sink += parseOp(bytes, BaseTsMs, &b) ? b.size() : -1;
        });
        const Cost fromText = measure(o, n, [&] {
            EventBatch b;
            g_sink += parseOp(text.toUtf8(), BaseTsMs, &b) ? b.size() : -1;
        });
        char name[96];
        std::snprintf(name, sizeof name, "parse publish op, %d event%s: plain QJsonDocument::fromJson", n, n == 1 ? "" : "s");
        row(name, plain);
        std::snprintf(name, sizeof name, "parse publish op, %d event%s: codec, from bytes (REST)", n, n == 1 ? "" : "s");
        row(name, fromBytes, plain);
        std::snprintf(name, sizeof name, "parse publish op, %d event%s: codec, from a WS frame", n, n == 1 ? "" : "s");
        row(name, fromText, plain);
    }
    std::printf("\n");

    // Serialize: one envelope per event, as Hub::publish does.
    {
        std::size_t next = 0;
        const Cost plain = measure(o, 1, [&] {
            g_sink += QJsonDocument(envelopeObject(events[next++ % events.size()])).toJson(QJsonDocument::Compact).size();
        });
        const Cost codec = measure(o, 1, [&] {
            Event &e = events[next++ % events.size()];
            Codec::serializeEnvelope(&e);
            g_sink += e.envelope.size();
        });
        row("envelope: plain QJsonDocument(object).toJson", plain);
        row("envelope: Codec::serializeEnvelope", codec, plain);
    }
    // Batch frame of 100 envelopes.
    {
        const Cost plain = measure(o, 100, [&] {
            const QJsonObject frame{{QStringLiteral("type"), QStringLiteral("batch")}, {QStringLiteral("events"), envelopeArray}};
            g_sink += QJsonDocument(frame).toJson(QJsonDocument::Compact).size();
        });
        const Cost codec = measure(o, 100, [&] { g_sink += Codec::batchFrame(envelopes).size(); });
        const Cost roundTrip = measure(o, 100, [&] {
            // Hub::frameOf makes a QString; QWebSocket::sendTextMessage turns it back into UTF-8.
            g_sink += QString::fromUtf8(Codec::batchFrame(envelopes)).toUtf8().size();
        });
        row("batch frame of 100: plain QJsonDocument(array).toJson", plain);
        row("batch frame of 100: Codec::batchFrame", codec, plain);
        row("batch frame of 100: batchFrame + QString and back", roundTrip, plain);
    }
    // Read back from the store.
    {
        std::size_t next = 0;
        const Cost plain = measure(o, 1, [&] {
            g_sink += QJsonDocument::fromJson(envelopes.at(qsizetype(next++ % 100))).object().size();
        });
        const Cost codec = measure(o, 1, [&] {
            Event e;
            g_sink += Codec::parseEnvelope(envelopes.at(qsizetype(next++ % 100)), &e) ? e.seq : -1;
        });
        row("envelope read back: plain QJsonDocument::fromJson", plain);
        row("envelope read back: Codec::parseEnvelope", codec, plain);
    }
    // Timestamps, as the codec parses and writes them per event, against QDateTime's ISO 8601.
    {
        QVector<QString> texts;
        for (const Event &e : events) {
            texts.append(Codec::formatTimestamp(e.tsMs));
            qint64 ms = 0;
            const QDateTime qt = QDateTime::fromString(texts.last(), Qt::ISODateWithMs);
            if (!Codec::parseTimestamp(texts.last(), &ms) || ms != e.tsMs || qt.toMSecsSinceEpoch() != e.tsMs
                || QDateTime::fromMSecsSinceEpoch(e.tsMs, Qt::UTC).toString(Qt::ISODateWithMs) != texts.last())
                return fail("a timestamp does not read back");
        }
        std::size_t next = 0;
        const Cost qtParse = measure(o, 1, [&] {
            g_sink += QDateTime::fromString(texts.at(qsizetype(next++ % 100)), Qt::ISODateWithMs).toMSecsSinceEpoch();
        });
        const Cost codecParse = measure(o, 1, [&] {
            qint64 ms = 0;
            g_sink += Codec::parseTimestamp(texts.at(qsizetype(next++ % 100)), &ms) ? ms : -1;
        });
        const Cost qtFormat = measure(o, 1, [&] {
            g_sink += QDateTime::fromMSecsSinceEpoch(events[next++ % events.size()].tsMs, Qt::UTC)
                          .toString(Qt::ISODateWithMs)
                          .size();
        });
        const Cost codecFormat = measure(o, 1, [&] { g_sink += Codec::formatTimestamp(events[next++ % events.size()].tsMs).size(); });
        row("timestamp parse: QDateTime::fromString(ISODateWithMs)", qtParse);
        row("timestamp parse: Codec::parseTimestamp", codecParse, qtParse);
        row("timestamp format: QDateTime::toString(ISODateWithMs)", qtFormat);
        row("timestamp format: Codec::formatTimestamp", codecFormat, qtFormat);
    }
    return 0;
}
