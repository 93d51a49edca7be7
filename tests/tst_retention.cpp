// Retention: finished runs past the age limit or over the size cap are deleted, oldest end first;
// running runs never. Through the Hub on a real SQLite store, then read back after reopening.
#include "codec.h"
#include "hub.h"
#include "sqlitestore.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

using namespace Runwatch;

namespace {

constexpr qint64 Day = 86400000;

QJsonObject event(const QString &run, const QString &type, qint64 tsMs, const QJsonObject &data = {})
{
    return QJsonObject{{QStringLiteral("run"), run}, {QStringLiteral("type"), type},
                       {QStringLiteral("ts"), Codec::formatTimestamp(tsMs)}, {QStringLiteral("data"), data}};
}

// A run that started at `start` and, unless `endAt` is 0, completed at `endAt`, with `points`
// metric events of some size in between.
void publishRun(Hub &hub, const QString &run, qint64 start, qint64 endAt, int points = 10)
{
    QJsonArray events{event(run, QStringLiteral("run_started"), start)};
    const QString padding(200, QLatin1Char('x'));
    for (int i = 0; i < points; ++i)
        events.append(event(run, QStringLiteral("metric"), start + i,
                            {{QStringLiteral("step"), i}, {QStringLiteral("loss"), 1.0 / (i + 1)}}));
    events.append(event(run, QStringLiteral("log"), start + points, {{QStringLiteral("message"), padding}}));
    if (endAt > 0)
        events.append(event(run, QStringLiteral("run_completed"), endAt));
    const PublishResult result = hub.publishJson(events);
    QVERIFY2(!result.error, qPrintable(result.error.message));
}

} // namespace

class TestRetention : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void ageLimitDeletesOnlyOldFinishedRuns();
    void sizeCapDeletesOldestFinishedFirst();
    void nothingConfiguredDeletesNothing();
};

void TestRetention::ageLimitDeletesOnlyOldFinishedRuns()
{
    QTemporaryDir dir;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    ServerConfig config;
    config.retainDays = 7;
    {
        QString error;
        auto store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
        QVERIFY2(store, qPrintable(error));
        Hub hub(config, std::move(store));
        publishRun(hub, QStringLiteral("old-done"), now - 30 * Day, now - 20 * Day);
        publishRun(hub, QStringLiteral("recent-done"), now - 3 * Day, now - 2 * Day);
        publishRun(hub, QStringLiteral("old-running"), now - 40 * Day, 0); // still running: kept
        const qint64 lastSeq = hub.lastSeq();

        const QStringList removed = hub.applyRetention(now);
        QCOMPARE(removed, QStringList{QStringLiteral("old-done")});
        QVERIFY(!hub.run(QStringLiteral("old-done")));
        QVERIFY(hub.run(QStringLiteral("recent-done")));
        QVERIFY(hub.run(QStringLiteral("old-running")));
        QVERIFY(hub.store().readRun(QStringLiteral("old-done"), 0, 100, 1 << 20).isEmpty());
        QCOMPARE(hub.lastSeq(), lastSeq);
        QVERIFY(hub.applyRetention(now).isEmpty()); // nothing more to do
    }
    // The deletion is on disk.
    QString error;
    auto store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    Hub reopened(config, std::move(store));
    QVERIFY(!reopened.run(QStringLiteral("old-done")));
    QVERIFY(reopened.run(QStringLiteral("recent-done")));
    QVERIFY(reopened.run(QStringLiteral("old-running")));
}

void TestRetention::sizeCapDeletesOldestFinishedFirst()
{
    QTemporaryDir dir;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    QString error;
    auto store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    Hub hub(ServerConfig(), std::move(store));
    publishRun(hub, QStringLiteral("a"), now - 10 * Day, now - 9 * Day, 50);  // ended first
    publishRun(hub, QStringLiteral("b"), now - 10 * Day, now - 5 * Day, 50);
    publishRun(hub, QStringLiteral("c"), now - 10 * Day, now - 1 * Day, 50);
    publishRun(hub, QStringLiteral("live"), now - 20 * Day, 0, 50);
    const qint64 total = hub.store().storedBytes();
    QVERIFY(total > 0);

    // A cap that three runs fit under but not four: the run that ended first goes, only it.
    const qint64 cap = total - total / 8;
    hub.setRetention(0, cap);
    QCOMPARE(hub.applyRetention(now), QStringList{QStringLiteral("a")});
    QVERIFY(hub.store().storedBytes() <= cap);

    // A cap below what the running run alone holds: every finished run goes, the running one stays.
    hub.setRetention(0, 1);
    QCOMPARE(hub.applyRetention(now), (QStringList{QStringLiteral("b"), QStringLiteral("c")}));
    QVERIFY(hub.run(QStringLiteral("live")));
    QVERIFY(!hub.store().readRun(QStringLiteral("live"), 0, 1000, 1 << 20).isEmpty());
}

void TestRetention::nothingConfiguredDeletesNothing()
{
    QTemporaryDir dir;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    QString error;
    auto store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    Hub hub(ServerConfig(), std::move(store));
    publishRun(hub, QStringLiteral("ancient"), now - 3650 * Day, now - 3000 * Day);
    QVERIFY(hub.applyRetention(now).isEmpty());
    QVERIFY(hub.run(QStringLiteral("ancient")));
}

QTEST_GUILESS_MAIN(TestRetention)
#include "tst_retention.moc"
