// A start from the snapshot of a clean stop (plus the events after it) gives exactly the state a
// replay of every event gives; a deleted run or a damaged snapshot falls back to the full replay.
#include "codec.h"
#include "hub.h"
#include "sqlitestore.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace Runwatch;

namespace {

QJsonObject ev(const QString &run, const QString &type, const QJsonObject &data, const QString &step = QString())
{
    QJsonObject event{{QStringLiteral("run"), run}, {QStringLiteral("type"), type}, {QStringLiteral("data"), data}};
    if (!step.isEmpty())
        event.insert(QStringLiteral("step"), step);
    return event;
}

QJsonArray richRun(const QString &run, int from, int to)
{
    QJsonArray events;
    if (from == 0) {
        events.append(ev(run, QStringLiteral("run_started"), {{QStringLiteral("name"), run}, {QStringLiteral("kind"), QStringLiteral("training")},
                                                             {QStringLiteral("config"), QJsonObject{{QStringLiteral("lr"), 0.1}}},
                                                             {QStringLiteral("tags"), QJsonArray{QStringLiteral("a")}}}));
        events.append(ev(run, QStringLiteral("step_started"), {{QStringLiteral("name"), QStringLiteral("prep")}}, QStringLiteral("s1")));
    }
    for (int i = from; i < to; ++i) {
        events.append(ev(run, QStringLiteral("metric"), {{QStringLiteral("step"), i}, {QStringLiteral("loss"), i % 17 == 0 ? QJsonValue(QStringLiteral("NaN")) : QJsonValue(1.0 / (i + 1))}}));
        events.append(ev(run, QStringLiteral("progress"), {{QStringLiteral("completed"), i}, {QStringLiteral("total"), 100}, {QStringLiteral("epoch"), i / 10}}));
        if (i % 7 == 0)
            events.append(ev(run, QStringLiteral("token"), {{QStringLiteral("text"), QStringLiteral("tok%1 ").arg(i)}}));
        if (i % 11 == 0)
            events.append(ev(run, QStringLiteral("result"), {{QStringLiteral("correct"), i % 22 == 0}}));
    }
    if (to >= 50 && from < 50)
        events.append(ev(run, QStringLiteral("step_completed"), {{QStringLiteral("result"), QStringLiteral("ok")}}, QStringLiteral("s1")));
    return events;
}

// Everything a viewer can see of every run.
QByteArray fingerprint(const Hub &hub)
{
    QByteArray out;
    for (const RunState *run : hub.runs()) {
        out += QJsonDocument(run->summary(true)).toJson(QJsonDocument::Compact) + '\n';
        out += run->output().toUtf8() + '\n';
        for (const QString &name : run->metricNames()) {
            const MetricSeries points = hub.history().read(run->id(), name);
            const MetricSeries *series = &points;
            for (qsizetype i = 0; i < series->size(); ++i)
                out += QByteArray::number(series->steps.at(i)) + ':' + Codec::metricValueJson(series->values.at(i)) + ':'
                    + QByteArray::number(series->tsMs.at(i)) + ' ';
            out += '\n';
        }
    }
    return out;
}

std::unique_ptr<Hub> open(const QString &dir)
{
    QString error;
    auto store = SqliteStore::open(dir, SqliteStore::Sync::Normal, &error);
    if (!store)
        qFatal("%s", qPrintable(error));
    return std::make_unique<Hub>(ServerConfig(), std::move(store));
}

} // namespace

class TestSnapshot : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void snapshotPlusLaterEventsEqualsFullReplay();
    void deletingARunDropsTheSnapshot();
    void damagedSnapshotFallsBackToReplay();
};

void TestSnapshot::snapshotPlusLaterEventsEqualsFullReplay()
{
    QTemporaryDir dir;
    QByteArray expected;
    {
        auto hub = open(dir.path());
        QVERIFY(!hub->publishJson(richRun(QStringLiteral("a"), 0, 40)).error);
        QVERIFY(!hub->publishJson(richRun(QStringLiteral("b"), 0, 30)).error);
        QVERIFY(hub->saveSnapshot());
        // More after the snapshot, then no clean stop (as after a crash).
        QVERIFY(!hub->publishJson(richRun(QStringLiteral("a"), 40, 60)).error);
        QVERIFY(!hub->publishJson(richRun(QStringLiteral("c"), 0, 5)).error);
        expected = fingerprint(*hub);
    }
    auto fromSnapshot = open(dir.path());
    QVERIFY(fromSnapshot->restoredFromSnapshot());
    QCOMPARE(fingerprint(*fromSnapshot), expected);
    const qint64 lastSeq = fromSnapshot->lastSeq();
    fromSnapshot.reset();

    // The same history replayed event by event (no snapshot) gives the same state.
    {
        QString error;
        auto store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
        QVERIFY2(store, qPrintable(error));
        store->dropSnapshot();
    }
    auto replayed = open(dir.path());
    QVERIFY(!replayed->restoredFromSnapshot());
    QCOMPARE(fingerprint(*replayed), expected);
    QCOMPARE(replayed->lastSeq(), lastSeq);
}

void TestSnapshot::deletingARunDropsTheSnapshot()
{
    QTemporaryDir dir;
    {
        auto hub = open(dir.path());
        QVERIFY(!hub->publishJson(richRun(QStringLiteral("keep"), 0, 10)).error);
        QVERIFY(!hub->publishJson(richRun(QStringLiteral("gone"), 0, 10)).error);
        QVERIFY(hub->saveSnapshot());
        QVERIFY(hub->removeRun(QStringLiteral("gone")));
    }
    auto hub = open(dir.path());
    QVERIFY(!hub->restoredFromSnapshot());
    QVERIFY(!hub->run(QStringLiteral("gone")));
    QVERIFY(hub->run(QStringLiteral("keep")));
}

void TestSnapshot::damagedSnapshotFallsBackToReplay()
{
    QTemporaryDir dir;
    QByteArray expected;
    {
        auto hub = open(dir.path());
        QVERIFY(!hub->publishJson(richRun(QStringLiteral("r"), 0, 20)).error);
        expected = fingerprint(*hub);
        QVERIFY(hub->saveSnapshot());
    }
    {
        // Cut the snapshot short, as a bug or a damaged disk might.
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("damage"));
        db.setDatabaseName(dir.filePath(QStringLiteral("runwatch.db")));
        QVERIFY(db.open());
        QSqlQuery q(db);
        QVERIFY(q.exec(QStringLiteral("UPDATE meta SET value = substr(value, 1, 100) WHERE key = 'snapshot'")));
        q.finish();
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("damage"));
    auto hub = open(dir.path());
    QVERIFY(!hub->restoredFromSnapshot());
    QCOMPARE(fingerprint(*hub), expected);
}

QTEST_GUILESS_MAIN(TestSnapshot)
#include "tst_snapshot.moc"
