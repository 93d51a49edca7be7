// Exactly-once publishing: an event that carries a producer id ("eid") is stored once per run;
// a retry gets the seq stored the first time and stores and broadcasts nothing. Through the Hub
// on both stores, across a restart of the SQLite one, and through POST /api/events.
#include "testsupport.h"

#include "codec.h"
#include "hub.h"
#include "memorystore.h"
#include "sqlitestore.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace Runwatch;

namespace {

QJsonObject metric(const QString &run, int step, const QString &eid)
{
    QJsonObject event{{QStringLiteral("run"), run}, {QStringLiteral("type"), QStringLiteral("metric")},
                      {QStringLiteral("data"), QJsonObject{{QStringLiteral("step"), step}, {QStringLiteral("loss"), 1.0 / (step + 1)}}}};
    if (!eid.isEmpty())
        event.insert(QStringLiteral("eid"), eid);
    return event;
}

} // namespace

class TestDedupe : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void retryGetsTheFirstSeqs_data();
    void retryGetsTheFirstSeqs();
    void survivesRestart();
    void invalidEid();
    void httpAnswerCountsDuplicates();
};

void TestDedupe::retryGetsTheFirstSeqs_data()
{
    QTest::addColumn<bool>("sqlite");
    QTest::newRow("sqlite") << true;
    QTest::newRow("memory") << false;
}

void TestDedupe::retryGetsTheFirstSeqs()
{
    QFETCH(bool, sqlite);
    QTemporaryDir dir;
    QString error;
    std::unique_ptr<EventStore> store;
    if (sqlite)
        store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    else
        store = std::make_unique<MemoryStore>();
    QVERIFY2(store, qPrintable(error));
    Hub hub(ServerConfig(), std::move(store));
    QSignalSpy accepted(&hub, &Hub::accepted);

    const QJsonArray first{metric(QStringLiteral("r"), 1, QStringLiteral("p-1")), metric(QStringLiteral("r"), 2, QStringLiteral("p-2")),
                           metric(QStringLiteral("r"), 3, QString())};
    const PublishResult a = hub.publishJson(first);
    QVERIFY(!a.error);
    QCOMPARE(a.seqs, (QVector<qint64>{1, 2, 3}));
    QCOMPARE(a.duplicates, 0);

    // The same two ids again (a retry after a lost ack), one new id, and an event without id.
    const QJsonArray retry{metric(QStringLiteral("r"), 1, QStringLiteral("p-1")), metric(QStringLiteral("r"), 2, QStringLiteral("p-2")),
                           metric(QStringLiteral("r"), 4, QStringLiteral("p-3")), metric(QStringLiteral("r"), 3, QString())};
    const PublishResult b = hub.publishJson(retry);
    QVERIFY(!b.error);
    QCOMPARE(b.seqs, (QVector<qint64>{1, 2, 4, 5}));
    QCOMPARE(b.duplicates, 2);
    QCOMPARE(hub.store().storedEvents(), 5);
    QCOMPARE(hub.run(QStringLiteral("r"))->eventCount(), 5);
    QCOMPARE(accepted.count(), 2);
    QCOMPARE(accepted.at(1).at(0).value<EventBatch>().size(), 2); // only the new ones went out

    // All duplicates: nothing stored, nothing broadcast, the first seqs answered.
    const PublishResult c = hub.publishJson(QJsonArray{metric(QStringLiteral("r"), 1, QStringLiteral("p-1"))});
    QCOMPARE(c.seqs, QVector<qint64>{1});
    QCOMPARE(c.duplicates, 1);
    QCOMPARE(accepted.count(), 2);
    QCOMPARE(hub.lastSeq(), 5);

    // Ids are per run; and a repeat inside one publish is a duplicate of its first occurrence.
    const PublishResult d = hub.publishJson(QJsonArray{metric(QStringLiteral("other"), 1, QStringLiteral("p-1")),
                                                       metric(QStringLiteral("other"), 1, QStringLiteral("p-1"))});
    QCOMPARE(d.seqs, (QVector<qint64>{6, 6}));
    QCOMPARE(d.duplicates, 1);
    QCOMPARE(hub.store().storedEvents(), 6);
}

void TestDedupe::survivesRestart()
{
    QTemporaryDir dir;
    QString error;
    {
        auto store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
        QVERIFY2(store, qPrintable(error));
        Hub hub(ServerConfig(), std::move(store));
        QVERIFY(!hub.publishJson(QJsonArray{metric(QStringLiteral("r"), 1, QStringLiteral("a")), metric(QStringLiteral("r"), 2, QStringLiteral("b"))}).error);
    }
    auto store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    Hub hub(ServerConfig(), std::move(store));
    const PublishResult again = hub.publishJson(QJsonArray{metric(QStringLiteral("r"), 2, QStringLiteral("b")), metric(QStringLiteral("r"), 3, QStringLiteral("c"))});
    QCOMPARE(again.seqs, (QVector<qint64>{2, 3}));
    QCOMPARE(again.duplicates, 1);
    QCOMPARE(hub.run(QStringLiteral("r"))->eventCount(), 3);
}

void TestDedupe::invalidEid()
{
    for (const QJsonValue &bad : {QJsonValue(5), QJsonValue(QString()), QJsonValue(QString(129, QLatin1Char('x'))),
                                  QJsonValue(QStringLiteral("a\nb"))}) {
        QJsonObject event = metric(QStringLiteral("r"), 1, QString());
        event.insert(QStringLiteral("eid"), bad);
        Event out;
        const Error error = Codec::parseEvent(event, 0, &out);
        QCOMPARE(error.code, ErrorCode::InvalidEvent);
        QVERIFY(error.message.contains(QLatin1String("eid")));
    }
}

void TestDedupe::httpAnswerCountsDuplicates()
{
    Test::TestServer server;
    QVERIFY(server.start());
    QNetworkAccessManager nam;
    auto post = [&](const QJsonArray &events) {
        return Test::httpCall(nam, "POST", server.http(QStringLiteral("/api/events")), QByteArray(), QJsonDocument(events).toJson()).object();
    };
    const QJsonArray events{metric(QStringLiteral("h"), 1, QStringLiteral("x1")), metric(QStringLiteral("h"), 2, QStringLiteral("x2"))};
    const QJsonObject first = post(events);
    QCOMPARE(first.value(QLatin1String("accepted")).toInt(), 2);
    QVERIFY(!first.contains(QLatin1String("duplicates")));
    const QJsonObject second = post(events);
    QCOMPARE(second.value(QLatin1String("accepted")).toInt(), 2);
    QCOMPARE(second.value(QLatin1String("duplicates")).toInt(), 2);
    QCOMPARE(second.value(QLatin1String("seq")).toArray(), first.value(QLatin1String("seq")).toArray());
}

QTEST_GUILESS_MAIN(TestDedupe)
#include "tst_dedupe.moc"
