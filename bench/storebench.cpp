// The durable store: sustained ingest through the Hub into SQLite (batches of 100 events, one
// transaction each, as a publish with 100 events does), the cost of durability (synchronous=NORMAL,
// which survives a crash of the process, against FULL, which also survives a power loss), the time
// to start again on a million events (run state rebuilt from the store), and reading a run back.
//
//   runwatch_storebench [--events N] [--full-events N] [--dir DIR]

#include "codec.h"
#include "hub.h"
#include "sqlitestore.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonObject>
#include <QTemporaryDir>

#include <cstdio>

using namespace Runwatch;

namespace {

EventBatch metricBatch(qint64 first, int count)
{
    EventBatch batch;
    batch.reserve(count);
    for (int i = 0; i < count; ++i) {
        Event e;
        e.run = QStringLiteral("bench");
        e.type = QStringLiteral("metric");
        e.kind = EventKind::Metric;
        e.tsMs = 1700000000000 + first + i;
        e.data = QJsonObject{{QStringLiteral("step"), double(first + i)},
                             {QStringLiteral("loss"), 1.0 / double(first + i + 1)},
                             {QStringLiteral("lr"), 0.0003}};
        batch.append(std::move(e));
    }
    return batch;
}

double ingest(const QString &dir, SqliteStore::Sync sync, qint64 events)
{
    QString error;
    auto store = SqliteStore::open(dir, sync, &error);
    if (!store) {
        std::fprintf(stderr, "storebench: %s\n", qPrintable(error));
        std::exit(1);
    }
    Hub hub(ServerConfig(), std::move(store));
    QElapsedTimer clock;
    clock.start();
    for (qint64 done = 0; done < events; done += 100) {
        const PublishResult result = hub.publish(metricBatch(done, 100));
        if (result.error) {
            std::fprintf(stderr, "storebench: %s\n", qPrintable(result.error.message));
            std::exit(1);
        }
    }
    return double(events) / (double(clock.nsecsElapsed()) / 1e9);
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addOptions({{QStringLiteral("events"), QStringLiteral("events for the NORMAL run"), QStringLiteral("N"), QStringLiteral("1000000")},
                       {QStringLiteral("full-events"), QStringLiteral("events for the FULL run"), QStringLiteral("N"), QStringLiteral("100000")},
                       {QStringLiteral("dir"), QStringLiteral("where to put the databases (default: a temporary dir)"), QStringLiteral("DIR")}});
    parser.process(app);
    const qint64 events = parser.value(QStringLiteral("events")).toLongLong() / 100 * 100;
    const qint64 fullEvents = parser.value(QStringLiteral("full-events")).toLongLong() / 100 * 100;
    QTemporaryDir temp(parser.isSet(QStringLiteral("dir")) ? QDir(parser.value(QStringLiteral("dir"))).filePath(QStringLiteral("storebench-XXXXXX"))
                                                          : QDir::tempPath() + QStringLiteral("/storebench-XXXXXX"));
    const QString normalDir = QDir(temp.path()).filePath(QStringLiteral("normal"));
    const QString fullDir = QDir(temp.path()).filePath(QStringLiteral("full"));
    QDir().mkpath(normalDir);
    QDir().mkpath(fullDir);

    const double normalRate = ingest(normalDir, SqliteStore::Sync::Normal, events);
    std::printf("ingest synchronous=NORMAL: %lld events in batches of 100: %.0f events/s\n", static_cast<long long>(events), normalRate);
    if (fullEvents > 0) {
        const double fullRate = ingest(fullDir, SqliteStore::Sync::Full, fullEvents);
        std::printf("ingest synchronous=FULL:   %lld events in batches of 100: %.0f events/s (%.2fx of NORMAL)\n",
                    static_cast<long long>(fullEvents), fullRate, fullRate / normalRate);
    }
    std::printf("database size: %.1f MB for %lld events\n",
                double(QFileInfo(QDir(normalDir).filePath(QStringLiteral("runwatch.db"))).size()) / 1e6, static_cast<long long>(events));

    // Start again: open the store and rebuild every run's state and series by replaying every event
    // (as after a crash), then stop cleanly (which writes a snapshot) and start from the snapshot.
    QElapsedTimer clock;
    clock.start();
    QString error;
    auto store = SqliteStore::open(normalDir, SqliteStore::Sync::Normal, &error);
    auto replayed = std::make_unique<Hub>(ServerConfig(), std::move(store));
    const double replayMs = double(clock.nsecsElapsed()) / 1e6;
    const qint64 points = replayed->history().count(QStringLiteral("bench"), QStringLiteral("loss"));
    std::printf("start after a crash, %lld events replayed: %.0f ms; loss series has %lld points; metric points in memory: %.1f MB\n",
                static_cast<long long>(events), replayMs, static_cast<long long>(points), double(replayed->history().memoryBytes()) / 1e6);
    clock.restart();
    replayed->saveSnapshot();
    std::printf("clean stop, snapshot written: %.0f ms\n", double(clock.nsecsElapsed()) / 1e6);
    replayed.reset();
    clock.restart();
    Hub hub(ServerConfig(), SqliteStore::open(normalDir, SqliteStore::Sync::Normal, &error));
    std::printf("start after a clean stop (snapshot%s): %.0f ms; metric points in memory: %.1f MB\n",
                hub.restoredFromSnapshot() ? "" : " NOT used", double(clock.nsecsElapsed()) / 1e6,
                double(hub.history().memoryBytes()) / 1e6);
    clock.restart();
    const MetricSeries loss = hub.history().read(QStringLiteral("bench"), QStringLiteral("loss"));
    std::printf("read the loss series back (%lld points, from blocks in the store): %.0f ms\n",
                static_cast<long long>(loss.size()), double(clock.nsecsElapsed()) / 1e6);

    // Read the run back in pages, as a late joiner's replay or the events endpoint does.
    clock.restart();
    qint64 since = 0, read = 0;
    for (;;) {
        const QVector<StoredEnvelope> page = hub.store().readRun(QStringLiteral("bench"), since, 100000, qint64(1) << 30);
        if (page.isEmpty())
            break;
        read += page.size();
        since = page.last().seq;
    }
    std::printf("read back %lld events of one run in pages of 100000: %.0f ms\n", static_cast<long long>(read),
                double(clock.nsecsElapsed()) / 1e6);
    return 0;
}
