// Integration tests of the WebSocket side of the wire contract (shared/design/protocol.md):
// real QWebSocket clients against a real Server on 127.0.0.1, port 0.

#include "testsupport.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <vector>

using namespace Runwatch;

namespace {

const QLatin1String kType("type");
const QLatin1String kSeq("seq");
const QLatin1String kRun("run");
const QLatin1String kId("id");

using Probe = Test::WsProbe;
using ProbePtr = std::unique_ptr<Probe>;
using Test::answerTo;
using Test::HttpResult;
using Test::httpCall;
using Test::nextId;
using Test::ofType;
using Test::openProbe;
using Test::publishAcked;
using Test::seqList;
using Test::sync;
using Test::waitAnswer;

bool waitForCount(Probe &probe, const QString &type, int count, int timeoutMs = 10000)
{
    return QTest::qWaitFor([&] { return ofType(probe, type).size() >= count; }, timeoutMs);
}

bool strictlyIncreasing(const QVector<qint64> &seqs)
{
    for (int i = 1; i < seqs.size(); ++i) {
        if (seqs.at(i) <= seqs.at(i - 1))
            return false;
    }
    return true;
}

QJsonArray logEvents(const QString &run, int count, int padding = 0, int first = 0)
{
    QJsonArray out;
    const QString pad(padding, QLatin1Char('p'));
    for (int i = 0; i < count; ++i)
        out.append(Test::event(run, QStringLiteral("log"),
                               {{QStringLiteral("level"), QStringLiteral("info")},
                                {QStringLiteral("message"), QStringLiteral("line %1 %2").arg(first + i).arg(pad)}}));
    return out;
}

QJsonArray metricEvents(const QString &run, int count, int firstStep = 0)
{
    QJsonArray out;
    for (int i = 0; i < count; ++i)
        out.append(Test::event(run, QStringLiteral("metric"),
                               {{QStringLiteral("step"), firstStep + i}, {QStringLiteral("loss"), 1.0 / (firstStep + i + 1)}}));
    return out;
}

bool isLifecycleType(const QString &type)
{
    static const QSet<QString> types{QStringLiteral("run_started"), QStringLiteral("run_status"),
                                     QStringLiteral("progress"), QStringLiteral("run_completed"),
                                     QStringLiteral("run_failed")};
    return types.contains(type);
}

// One of every event type of the contract, for one run.
QJsonArray everyType(const QString &run)
{
    return QJsonArray{
        Test::event(run, QStringLiteral("run_started"),
                    {{QStringLiteral("name"), run}, {QStringLiteral("kind"), QStringLiteral("training")},
                     {QStringLiteral("config"), QJsonObject{{QStringLiteral("lr"), 0.001}}},
                     {QStringLiteral("total_steps"), 100}}),
        Test::event(run, QStringLiteral("metric"), {{QStringLiteral("step"), 1}, {QStringLiteral("loss"), 2.5}}),
        Test::event(run, QStringLiteral("progress"), {{QStringLiteral("completed"), 1}, {QStringLiteral("total"), 100}}),
        Test::event(run, QStringLiteral("log"), {{QStringLiteral("level"), QStringLiteral("info")}, {QStringLiteral("message"), QStringLiteral("hello")}}),
        Test::event(run, QStringLiteral("run_status"), {{QStringLiteral("status"), QStringLiteral("paused")}}),
        Test::event(run, QStringLiteral("step_started"), {{QStringLiteral("name"), QStringLiteral("prepare")}}, QStringLiteral("s1")),
        Test::event(run, QStringLiteral("step_completed"), {}, QStringLiteral("s1")),
        Test::event(run, QStringLiteral("token"), {{QStringLiteral("text"), QStringLiteral("tok")}}),
        Test::event(run, QStringLiteral("result"), {{QStringLiteral("ok"), true}}),
        Test::event(run, QStringLiteral("error"), {{QStringLiteral("message"), QStringLiteral("oops")}}),
        Test::event(run, QStringLiteral("quality_check"), {{QStringLiteral("score"), 0.5}}),
        Test::event(run, QStringLiteral("run_status"), {{QStringLiteral("status"), QStringLiteral("running")}}),
        Test::event(run, QStringLiteral("progress"), {{QStringLiteral("completed"), 100}, {QStringLiteral("total"), 100}}),
        Test::event(run, QStringLiteral("run_completed"), {{QStringLiteral("summary"), QJsonObject{{QStringLiteral("loss"), 0.1}}}}),
        Test::event(run, QStringLiteral("run_failed"), {{QStringLiteral("message"), QStringLiteral("late failure")}}),
    };
}

} // namespace

class TestWebSocket : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void welcome();
    void publishAck();
    void publishSeqIncreasesAcrossRuns();
    void largeAndSmallMessagesKeepTheirOrder();
    void largePublishThenCloseIsStored_data();
    void largePublishThenCloseIsStored();
    void replayThenLiveWhilePublishing();
    void subscribeOpReplayThenSubscribedThenLive();
    void sinceAndReplay_data();
    void sinceAndReplay();
    void badSince_data();
    void badSince();
    void sinceAboveLastSeqIsLiveOnly_data();
    void sinceAboveLastSeqIsLiveOnly();
    void ackCarriesWarningsAndDataMayBeLeftOut();
    void subscribeAll();
    void unsubscribeStopsDelivery();
    void fanOutToManyClients();
    void selectiveDelivery();
    void lifecycleStream();
    void batchFrames();
    void nonFiniteMetrics_data();
    void nonFiniteMetrics();
    void stepEventsCarryStep_data();
    void stepEventsCarryStep();
    void pingOp_data();
    void pingOp();
    void unknownOp_data();
    void unknownOp();
    void invalidJsonLosesNothing_data();
    void invalidJsonLosesNothing();
    void binaryFrame();
    void deleteRunNotifiesSubscribers();
    void shutdownClosesWith1001();
    void seqContinuesAfterRestart();
};

void TestWebSocket::welcome()
{
    Test::TestServer srv;
    QVERIFY(srv.start());

    ProbePtr first = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(first->waitConnected());
    const QJsonObject w1 = first->waitMessage(QStringLiteral("welcome"));
    QVERIFY2(!w1.isEmpty(), "no welcome message");
    QVERIFY(w1.value(QStringLiteral("client_id")).isString());
    QVERIFY(!w1.value(QStringLiteral("client_id")).toString().isEmpty());
    QVERIFY(w1.value(QStringLiteral("protocol")).isDouble());
    QCOMPARE(w1.value(QStringLiteral("protocol")).toInt(), 1);
    QVERIFY(w1.value(QStringLiteral("last_seq")).isDouble());
    QCOMPARE(qint64(w1.value(QStringLiteral("last_seq")).toDouble()), qint64(0));
    // The welcome is the first message.
    QCOMPARE(first->messages().first().value(kType).toString(), QStringLiteral("welcome"));

    const QVector<qint64> seqs = publishAcked(*first, metricEvents(QStringLiteral("w"), 3));
    QCOMPARE(seqs.size(), 3);

    // Every path gets a welcome with the current last_seq, and every client its own id.
    const QStringList paths{QStringLiteral("/ws"), QStringLiteral("/ws/runs"), QStringLiteral("/ws/runs/w")};
    QSet<QString> ids{w1.value(QStringLiteral("client_id")).toString()};
    for (const QString &path : paths) {
        ProbePtr probe = openProbe(srv.ws(path));
        QVERIFY2(probe->waitConnected(), qPrintable(path));
        const QJsonObject w = probe->waitMessage(QStringLiteral("welcome"));
        QVERIFY2(!w.isEmpty(), qPrintable(path));
        QCOMPARE(w.value(QStringLiteral("protocol")).toInt(), 1);
        QCOMPARE(qint64(w.value(QStringLiteral("last_seq")).toDouble()), seqs.last());
        const QString id = w.value(QStringLiteral("client_id")).toString();
        QVERIFY(!id.isEmpty());
        QVERIFY2(!ids.contains(id), qPrintable(id));
        ids.insert(id);
    }
}

void TestWebSocket::publishAck()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr all = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(all->waitConnected());
    QVERIFY(producer->waitConnected());
    all->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("*")}});
    QVERIFY(!all->waitMessage(QStringLiteral("subscribed")).isEmpty());

    // events [...] with a string id
    producer->send(Test::publishOp(metricEvents(QStringLiteral("a"), 2), QStringLiteral("first")));
    const QJsonObject ack1 = waitAnswer(*producer, QStringLiteral("first"));
    QCOMPARE(ack1.value(kType).toString(), QStringLiteral("ack"));
    QCOMPARE(ack1.value(kId).toString(), QStringLiteral("first"));
    QVERIFY(ack1.value(kSeq).isArray());
    const QVector<qint64> s1 = seqList(ack1.value(kSeq).toArray());
    QCOMPARE(s1.size(), 2);
    QVERIFY(strictlyIncreasing(s1));

    // a single "event" with a numeric id
    QJsonObject single{{QStringLiteral("op"), QStringLiteral("publish")},
                       {QStringLiteral("event"), Test::event(QStringLiteral("a"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("x")}})},
                       {QStringLiteral("id"), 77}};
    producer->send(single);
    const QJsonObject ack2 = waitAnswer(*producer, 77);
    QCOMPARE(ack2.value(kType).toString(), QStringLiteral("ack"));
    QCOMPARE(ack2.value(kId).toInt(), 77);
    const QVector<qint64> s2 = seqList(ack2.value(kSeq).toArray());
    QCOMPARE(s2.size(), 1);
    QVERIFY(s2.first() > s1.last());

    // without id: accepted, but no ack
    producer->send(Test::publishOp(metricEvents(QStringLiteral("b"), 3, 10)));
    producer->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("publish")},
                               {QStringLiteral("event"), Test::event(QStringLiteral("b"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("y")}})}});
    QVERIFY(sync(*producer));
    QCOMPARE(ofType(*producer, QStringLiteral("ack")).size(), 2);
    QCOMPARE(ofType(*producer, QStringLiteral("error")).size(), 0);

    // then with id again: its seq comes after the unacknowledged ones
    const QVector<qint64> s3 = publishAcked(*producer, metricEvents(QStringLiteral("a"), 1, 50));
    QCOMPARE(s3.size(), 1);

    // The "*" subscriber saw all 8 events: the acked seqs, and 4 unacked ones between s2 and s3.
    QVERIFY2(all->waitEvents(8, 10000), qPrintable(QStringLiteral("got %1 events").arg(all->events().size())));
    QVERIFY(sync(*all));
    const QVector<qint64> seen = all->seqs();
    QCOMPARE(seen.size(), 8);
    QVERIFY(strictlyIncreasing(seen));
    QCOMPARE(seen.mid(0, 2), s1);
    QCOMPARE(seen.at(2), s2.first());
    for (int i = 3; i < 7; ++i) {
        QCOMPARE(all->events().at(i).value(kRun).toString(), QStringLiteral("b"));
        QVERIFY(seen.at(i) > s2.first() && seen.at(i) < s3.first());
    }
    QCOMPARE(seen.at(7), s3.first());
    QCOMPARE(all->events().at(7).value(kRun).toString(), QStringLiteral("a"));
}

// Large messages are parsed on a parse thread, small ones on the server thread: whatever finishes
// parsing first, a connection's messages are answered, stored and broadcast in the order sent.
void TestWebSocket::largeAndSmallMessagesKeepTheirOrder()
{
    ServerConfig config;
    config.parseThreads = 2;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr all = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(all->waitConnected());
    QVERIFY(producer->waitConnected());
    all->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("*")}});
    QVERIFY(!all->waitMessage(QStringLiteral("subscribed")).isEmpty());

    const QJsonArray big1 = metricEvents(QStringLiteral("o"), 300);
    QJsonArray bad = metricEvents(QStringLiteral("o"), 300, 1000);
    bad[150] = QJsonObject{{QStringLiteral("run"), QStringLiteral("o")}}; // no type
    const QJsonArray big2 = metricEvents(QStringLiteral("o"), 300, 2000);
    const QString brokenJson = QStringLiteral("{\"op\":\"publish\",\"events\":[") + QString(4000, QLatin1Char('[')); // large, not JSON
    QVERIFY(Test::publishOp(big1).value(QStringLiteral("events")).toArray().size() == 300);
    QVERIFY(QJsonDocument(big1).toJson(QJsonDocument::Compact).size() > 4 * 2048);

    // All sent at once, without waiting for any answer.
    producer->send(Test::publishOp(big1, QStringLiteral("big1")));
    producer->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("ping")}, {QStringLiteral("id"), QStringLiteral("p1")}});
    producer->send(Test::publishOp(metricEvents(QStringLiteral("o"), 1, 500), QStringLiteral("small1")));
    producer->send(Test::publishOp(bad, QStringLiteral("bad")));
    producer->sendText(brokenJson);
    producer->send(Test::publishOp(metricEvents(QStringLiteral("o"), 1, 1500), QStringLiteral("small2")));
    producer->send(Test::publishOp(big2, QStringLiteral("big2")));
    QVERIFY(!waitAnswer(*producer, QStringLiteral("big2")).isEmpty());

    const QVector<QJsonObject> &answers = producer->messages();
    QStringList order;
    for (const QJsonObject &m : answers) {
        const QString type = m.value(kType).toString();
        if (type == QLatin1String("welcome"))
            continue;
        const QString id = m.value(kId).toString();
        order << type + QLatin1Char(':') + (id.isEmpty() ? QStringLiteral("-") : id);
    }
    QCOMPARE(order, (QStringList{QStringLiteral("ack:big1"), QStringLiteral("pong:p1"), QStringLiteral("ack:small1"),
                                 QStringLiteral("error:bad"), QStringLiteral("error:-"), QStringLiteral("ack:small2"),
                                 QStringLiteral("ack:big2")}));
    const QJsonObject badError = answerTo(*producer, QStringLiteral("bad"));
    QCOMPARE(badError.value(QStringLiteral("code")).toString(), QStringLiteral("INVALID_EVENT"));
    QVERIFY2(badError.value(QStringLiteral("message")).toString().startsWith(QLatin1String("event 150:")),
             qPrintable(badError.value(QStringLiteral("message")).toString()));
    QCOMPARE(answers.at(answers.size() - 3).value(QStringLiteral("code")).toString(), QStringLiteral("INVALID_JSON"));

    QVector<qint64> acked;
    for (const QString &id : {QStringLiteral("big1"), QStringLiteral("small1"), QStringLiteral("small2"), QStringLiteral("big2")})
        acked += seqList(answerTo(*producer, id).value(kSeq).toArray());
    QCOMPARE(acked.size(), 602);
    QVERIFY(strictlyIncreasing(acked));

    // The subscriber got exactly the accepted events, in that order, with the data as sent.
    QVERIFY2(all->waitEvents(602, 10000), qPrintable(QStringLiteral("got %1 events").arg(all->events().size())));
    QVERIFY(sync(*all));
    QCOMPARE(all->seqs(), acked);
    const QJsonObject first = all->events().first().value(QStringLiteral("data")).toObject();
    QCOMPARE(first, big1.at(0).toObject().value(QStringLiteral("data")).toObject());
    const QJsonObject last = all->events().last().value(QStringLiteral("data")).toObject();
    QCOMPARE(last, big2.at(299).toObject().value(QStringLiteral("data")).toObject());
    QCOMPARE(all->events().at(300).value(QStringLiteral("data")).toObject().value(QStringLiteral("step")).toInt(), 500);
    QCOMPARE(all->events().at(301).value(QStringLiteral("data")).toObject().value(QStringLiteral("step")).toInt(), 1500);

    // The four large messages went to the parse threads (else this test would show nothing).
    QNetworkAccessManager nam;
    const QByteArray metrics = httpCall(nam, "GET", srv.http(QStringLiteral("/metrics"))).body;
    QCOMPARE(Test::metricValue(metrics, "runwatch_messages_parsed_ahead_total"), qint64(4));
}

void TestWebSocket::largePublishThenCloseIsStored_data()
{
    QTest::addColumn<bool>("closeFrame");
    QTest::newRow("close frame") << true;
    QTest::newRow("TCP close, no close frame") << false;
}

// A producer that publishes a large batch without waiting for its ack and closes at once: what the
// server received is stored, although the batch was still being parsed when the peer went.
void TestWebSocket::largePublishThenCloseIsStored()
{
    QFETCH(bool, closeFrame);
    ServerConfig config;
    config.parseThreads = 1;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    constexpr int Rounds = 8;
    for (int round = 0; round < Rounds; ++round) {
        ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
        QVERIFY(producer->waitConnected());
        QVERIFY(!producer->waitMessage(QStringLiteral("welcome")).isEmpty());
        producer->send(Test::publishOp(logEvents(QStringLiteral("gone%1").arg(round), 300, 40, round * 1000)));
        producer->socket().flush();
        if (closeFrame)
            producer->socket().close();
        else
            producer->socket().abort();
    }
    QNetworkAccessManager nam;
    for (int round = 0; round < Rounds; ++round) {
        const QUrl url = srv.http(QStringLiteral("/api/runs/gone%1/events?limit=1000").arg(round));
        // Stored within a moment, not dropped with the connection.
        int stored = 0;
        QTRY_VERIFY2_WITH_TIMEOUT((stored = int(QJsonDocument::fromJson(httpCall(nam, "GET", url).body).array().size())) == 300,
                                  qPrintable(QStringLiteral("round %1: %2 of 300 stored").arg(round).arg(stored)), 10000);
    }
}

void TestWebSocket::publishSeqIncreasesAcrossRuns()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr p1 = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr p2 = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(p1->waitConnected());
    QVERIFY(p2->waitConnected());
    QVector<qint64> all;
    for (int round = 0; round < 20; ++round) {
        const QString run = QStringLiteral("run-%1").arg(round % 4);
        Probe &producer = (round % 2) ? *p1 : *p2;
        QJsonArray events = metricEvents(run, 1 + round % 3, round * 10);
        events.append(Test::event(QStringLiteral("other-%1").arg(round % 3), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("m")}}));
        const QVector<qint64> seqs = publishAcked(producer, events);
        QCOMPARE(seqs.size(), events.size());
        all += seqs;
    }
    QVERIFY2(strictlyIncreasing(all), "seq must be strictly increasing across runs and clients");
    QCOMPARE(int(QSet<qint64>(all.cbegin(), all.cend()).size()), int(all.size()));
}

void TestWebSocket::replayThenLiveWhilePublishing()
{
    ServerConfig config;
    // A small queue bound makes the replay pause for the socket to drain, so that live events
    // are published while it is still running.
    config.maxQueueBytes = 1024 * 1024;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());

    QVector<qint64> expected;
    for (int batch = 0; batch < 20; ++batch) {
        const QVector<qint64> seqs = publishAcked(*producer, logEvents(QStringLiteral("big"), 1000, 800, batch * 1000));
        QCOMPARE(seqs.size(), 1000);
        expected += seqs;
        // Another run in between: it must not show up.
        QCOMPARE(publishAcked(*producer, logEvents(QStringLiteral("noise"), 5)).size(), 5);
    }

    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/big")));
    QVERIFY(sub->waitConnected());

    // Keep publishing while the replay runs: one op each time the subscriber has received
    // another 150 events, so that most ops are sent while it is still far behind.
    QStringList ids;
    int sentDuringReplay = 0;
    int nextAt = 0;
    QElapsedTimer guard;
    guard.start();
    while (ids.size() < 100 && guard.elapsed() < 30000) {
        (void)QTest::qWaitFor([&] { return sub->events().size() >= nextAt || sub->events().size() >= 20000; }, 1000);
        const int seen = int(sub->events().size());
        if (seen >= nextAt || seen >= 20000) {
            const QString id = nextId();
            ids.append(id);
            producer->send(Test::publishOp(logEvents(QStringLiteral("big"), 10, 20, 100000 + int(ids.size()) * 10), id));
            if (ids.size() % 10 == 0)
                producer->send(Test::publishOp(logEvents(QStringLiteral("noise"), 2)));
            if (seen < 20000)
                ++sentDuringReplay;
            nextAt += 150;
        }
    }
    QCOMPARE(ids.size(), 100);
    for (const QString &id : std::as_const(ids)) {
        const QJsonObject ack = waitAnswer(*producer, id);
        QCOMPARE(ack.value(kType).toString(), QStringLiteral("ack"));
        expected += seqList(ack.value(kSeq).toArray());
    }
    qInfo("live publish ops sent before the subscriber had the whole history: %d of 100", sentDuringReplay);

    QVERIFY2(sub->waitEvents(int(expected.size()), 30000),
             qPrintable(QStringLiteral("got %1 of %2 events").arg(sub->events().size()).arg(expected.size())));
    QVERIFY(sync(*sub));
    const QVector<qint64> seen = sub->seqs();
    QCOMPARE(seen.size(), expected.size());
    QVERIFY2(strictlyIncreasing(seen), "replay-then-live must deliver in seq order without duplicates");
    QCOMPARE(seen, expected);
    for (const QJsonObject &e : sub->events())
        QCOMPARE(e.value(kRun).toString(), QStringLiteral("big"));
    QVERIFY(sub->isConnected());
    QCOMPARE(ofType(*sub, QStringLiteral("error")).size(), 0);
}

void TestWebSocket::subscribeOpReplayThenSubscribedThenLive()
{
    ServerConfig config;
    config.maxQueueBytes = 1024 * 1024;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    QVector<qint64> expected;
    for (int batch = 0; batch < 10; ++batch) {
        const QVector<qint64> seqs = publishAcked(*producer, logEvents(QStringLiteral("op"), 1000, 100, batch * 1000));
        QCOMPARE(seqs.size(), 1000);
        expected += seqs;
    }

    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());
    // Where in the event stream the "subscribed" message arrived.
    int eventsBeforeSubscribed = -1;
    connect(&sub->socket(), &QWebSocket::textMessageReceived, this, [&](const QString &text) {
        if (eventsBeforeSubscribed < 0 && text.contains(QLatin1String("\"subscribed\"")))
            eventsBeforeSubscribed = int(sub->events().size());
    });
    sub->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("op")}});
    QVERIFY(sub->waitEvents(1, 10000));

    QStringList ids;
    for (int i = 0; i < 50; ++i) {
        const QString id = nextId();
        ids.append(id);
        producer->send(Test::publishOp(logEvents(QStringLiteral("op"), 5, 10, 50000 + i * 5), id));
        // The next op once the subscriber got further (replay or live): the ops are spread over the replay.
        const qsizetype seen = sub->events().size();
        QVERIFY(QTest::qWaitFor([&] { return sub->events().size() > seen; }, 10000));
    }
    for (const QString &id : std::as_const(ids)) {
        const QJsonObject ack = waitAnswer(*producer, id);
        QCOMPARE(ack.value(kType).toString(), QStringLiteral("ack"));
        expected += seqList(ack.value(kSeq).toArray());
    }
    QVERIFY2(sub->waitEvents(int(expected.size()), 30000),
             qPrintable(QStringLiteral("got %1 of %2 events").arg(sub->events().size()).arg(expected.size())));
    QVERIFY(sync(*sub));
    QCOMPARE(sub->seqs(), expected);

    const QVector<QJsonObject> subscribed = ofType(*sub, QStringLiteral("subscribed"));
    QCOMPARE(subscribed.size(), 1);
    QCOMPARE(subscribed.first().value(kRun).toString(), QStringLiteral("op"));
    const qint64 lastSeq = qint64(subscribed.first().value(QStringLiteral("last_seq")).toDouble());
    QVERIFY(lastSeq >= expected.at(9999));
    QVERIFY(eventsBeforeSubscribed >= 10000);
    // History (seq <= last_seq) comes before "subscribed", live (seq > last_seq) after it.
    const QVector<qint64> seen = sub->seqs();
    for (int i = 0; i < seen.size(); ++i) {
        if (i < eventsBeforeSubscribed)
            QVERIFY2(seen.at(i) <= lastSeq, qPrintable(QStringLiteral("event %1 seq %2 before subscribed(last_seq %3)").arg(i).arg(seen.at(i)).arg(lastSeq)));
        else
            QVERIFY2(seen.at(i) > lastSeq, qPrintable(QStringLiteral("event %1 seq %2 after subscribed(last_seq %3)").arg(i).arg(seen.at(i)).arg(lastSeq)));
    }
}

void TestWebSocket::sinceAndReplay_data()
{
    // mode: 0 = the whole history, 1 = history after the 4th event, 2 = live only.
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("op");
    QTest::addColumn<int>("mode");
    const QString sub = QStringLiteral("{\"op\":\"subscribe\",\"run\":\"s\"}");
    const QString subSince = QStringLiteral("{\"op\":\"subscribe\",\"run\":\"s\",\"since\":%1}");
    QTest::newRow("path") << QStringLiteral("/ws/runs/s") << QString() << 0;
    QTest::newRow("path since=0") << QStringLiteral("/ws/runs/s?since=0") << QString() << 0;
    QTest::newRow("path since=N") << QStringLiteral("/ws/runs/s?since=%1") << QString() << 1;
    QTest::newRow("path replay=0") << QStringLiteral("/ws/runs/s?replay=0") << QString() << 2;
    QTest::newRow("op") << QStringLiteral("/ws") << sub << 0;
    QTest::newRow("op since=0") << QStringLiteral("/ws") << subSince.arg(0) << 0;
    QTest::newRow("op since=N") << QStringLiteral("/ws") << subSince << 1;
    QTest::newRow("ws?since=N, op") << QStringLiteral("/ws?since=%1") << sub << 1;
    QTest::newRow("ws?replay=0, op") << QStringLiteral("/ws?replay=0") << sub << 2;
}

void TestWebSocket::sinceAndReplay()
{
    QFETCH(QString, path);
    QFETCH(QString, op);
    QFETCH(int, mode);

    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    QVector<qint64> history;
    qint64 lastAcked = 0;
    for (int i = 0; i < 10; ++i) {
        const QVector<qint64> seqs = publishAcked(*producer, metricEvents(QStringLiteral("s"), 1, i));
        QCOMPARE(seqs.size(), 1);
        history += seqs;
        const QVector<qint64> other = publishAcked(*producer, metricEvents(QStringLiteral("other"), 1, i));
        QCOMPARE(other.size(), 1);
        lastAcked = other.last();
    }
    const qint64 since = history.at(3);
    if (path.contains(QLatin1String("%1")))
        path = path.arg(since);
    if (op.contains(QLatin1String("%1")))
        op = op.arg(since);

    ProbePtr sub = openProbe(srv.ws(path));
    QVERIFY(sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());
    if (!op.isEmpty()) {
        sub->sendText(op);
        const QJsonObject subscribed = sub->waitMessage(QStringLiteral("subscribed"));
        QVERIFY2(!subscribed.isEmpty(), "the subscribe op must be answered with subscribed");
        QCOMPARE(subscribed.value(kRun).toString(), QStringLiteral("s"));
        QCOMPARE(qint64(subscribed.value(QStringLiteral("last_seq")).toDouble()), lastAcked);
    }
    QVERIFY(sync(*sub));

    QVector<qint64> expected;
    if (mode == 0)
        expected = history;
    else if (mode == 1)
        expected = history.mid(4);
    const QVector<qint64> live = publishAcked(*producer, metricEvents(QStringLiteral("s"), 3, 100));
    QCOMPARE(live.size(), 3);
    QCOMPARE(publishAcked(*producer, metricEvents(QStringLiteral("other"), 2, 100)).size(), 2);
    expected += live;

    QVERIFY2(sub->waitEvents(int(expected.size()), 10000),
             qPrintable(QStringLiteral("got %1 of %2 events").arg(sub->events().size()).arg(expected.size())));
    QVERIFY(sync(*sub));
    QCOMPARE(sub->seqs(), expected);
    for (const QJsonObject &e : sub->events())
        QCOMPARE(e.value(kRun).toString(), QStringLiteral("s"));
    QCOMPARE(ofType(*sub, QStringLiteral("error")).size(), 0);
}

void TestWebSocket::badSince_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("op");
    QTest::newRow("path since=abc") << QStringLiteral("/ws/runs/s?since=abc") << QString();
    QTest::newRow("path since=-5") << QStringLiteral("/ws/runs/s?since=-5") << QString();
    QTest::newRow("lifecycle since=1x") << QStringLiteral("/ws/runs?since=1x") << QString();
    QTest::newRow("op since string") << QStringLiteral("/ws") << QStringLiteral("{\"op\":\"subscribe\",\"run\":\"s\",\"since\":\"abc\",\"id\":\"b1\"}");
    QTest::newRow("op since object") << QStringLiteral("/ws") << QStringLiteral("{\"op\":\"subscribe\",\"run\":\"s\",\"since\":{},\"id\":\"b1\"}");
    QTest::newRow("op since NaN") << QStringLiteral("/ws") << QStringLiteral("{\"op\":\"subscribe\",\"run\":\"s\",\"since\":NaN,\"id\":\"b1\"}");
}

void TestWebSocket::badSince()
{
    QFETCH(QString, path);
    QFETCH(QString, op);
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr probe = openProbe(srv.ws(path));
    if (op.isEmpty()) {
        // On a path: an error frame, then close 4400 (the socket may be closed before we look).
        QVERIFY(probe->waitClosed(10000));
        QCOMPARE(probe->closeCode(), 4400);
        QCOMPARE(ofType(*probe, QStringLiteral("error")).size(), 1);
        QCOMPARE(ofType(*probe, QStringLiteral("welcome")).size(), 1);
        QCOMPARE(probe->events().size(), 0);
    } else {
        QVERIFY(probe->waitConnected());
        // In a subscribe op: INVALID_REQUEST (a bad op argument, not a bad event), the connection
        // stays open.
        probe->sendText(op);
        const QJsonObject error = waitAnswer(*probe, QStringLiteral("b1"));
        QCOMPARE(error.value(kType).toString(), QStringLiteral("error"));
        QCOMPARE(error.value(QStringLiteral("code")).toString(), QStringLiteral("INVALID_REQUEST"));
        QVERIFY(sync(*probe));
        QVERIFY(probe->isConnected());
        QCOMPARE(ofType(*probe, QStringLiteral("subscribed")).size(), 0);
    }
}

void TestWebSocket::sinceAboveLastSeqIsLiveOnly_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("op");
    QTest::newRow("path since=10**18") << QStringLiteral("/ws/runs/s?since=1000000000000000000") << QString();
    QTest::newRow("path since=10**30") << QStringLiteral("/ws/runs/s?since=1000000000000000000000000000000") << QString();
    QTest::newRow("op since 10**18") << QStringLiteral("/ws") << QStringLiteral("{\"op\":\"subscribe\",\"run\":\"s\",\"since\":1000000000000000000,\"id\":\"b1\"}");
    QTest::newRow("op since 1e300") << QStringLiteral("/ws") << QStringLiteral("{\"op\":\"subscribe\",\"run\":\"s\",\"since\":1e300,\"id\":\"b1\"}");
}

// Any non-negative seq is a cursor: one above the last seq has nothing to replay, and every event
// accepted later arrives live.
void TestWebSocket::sinceAboveLastSeqIsLiveOnly()
{
    QFETCH(QString, path);
    QFETCH(QString, op);
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    QCOMPARE(publishAcked(*producer, metricEvents(QStringLiteral("s"), 3)).size(), 3);

    ProbePtr probe = openProbe(srv.ws(path));
    QVERIFY(probe->waitConnected());
    if (!op.isEmpty()) {
        probe->sendText(op);
        const QJsonObject subscribed = waitAnswer(*probe, QStringLiteral("b1"));
        QCOMPARE(subscribed.value(kType).toString(), QStringLiteral("subscribed"));
    }
    QVERIFY(sync(*probe));
    QCOMPARE(probe->events().size(), 0);
    QVERIFY(probe->isConnected());
    const QVector<qint64> live = publishAcked(*producer, metricEvents(QStringLiteral("s"), 2));
    QCOMPARE(live.size(), 2);
    QVERIFY(probe->waitEvents(2));
    QCOMPARE(probe->seqs(), live);
}

// Over a publish op as over HTTP: an event without data is data {}, and an ack names the events
// whose type looks mistyped, by their index in the publish.
void TestWebSocket::ackCarriesWarningsAndDataMayBeLeftOut()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr viewer = openProbe(srv.ws(QStringLiteral("/ws/runs/d")));
    QVERIFY(viewer->waitConnected());
    QVERIFY(sync(*viewer));
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    producer->sendText(QStringLiteral(R"({"op":"publish","id":"w1","events":[{"run":"d","type":"run_started"},)"
                                      R"({"run":"d","type":"Metric","data":{"loss":1}},{"run":"d","type":"progres","data":{"completed":1}},)"
                                      R"({"run":"d","type":"run_completed"}]})"));
    const QJsonObject ack = waitAnswer(*producer, QStringLiteral("w1"));
    QCOMPARE(ack.value(kType).toString(), QStringLiteral("ack"));
    QCOMPARE(ack.value(QStringLiteral("seq")).toArray().size(), 4);
    const QJsonArray warnings = ack.value(QStringLiteral("warnings")).toArray();
    QCOMPARE(warnings.size(), 2);
    QCOMPARE(warnings.at(0).toObject().value(QStringLiteral("index")).toInt(), 1);
    QVERIFY(warnings.at(0).toObject().value(QStringLiteral("message")).toString().contains(QStringLiteral("\"metric\"")));
    QCOMPARE(warnings.at(1).toObject().value(QStringLiteral("index")).toInt(), 2);
    QVERIFY(warnings.at(1).toObject().value(QStringLiteral("message")).toString().contains(QStringLiteral("\"progress\"")));
    for (const QJsonValue &w : warnings)
        QCOMPARE(w.toObject().value(QStringLiteral("code")).toString(), QStringLiteral("UNKNOWN_TYPE"));
    QVERIFY(viewer->waitEvents(4));
    QCOMPARE(viewer->events().first().value(QStringLiteral("data")).toObject(), QJsonObject());
    QCOMPARE(viewer->events().last().value(QStringLiteral("type")).toString(), QStringLiteral("run_completed"));
    // A single event too.
    producer->sendText(QStringLiteral(R"({"op":"publish","id":"w2","event":{"run":"d","type":"heartbeat"}})"));
    const QJsonObject single = waitAnswer(*producer, QStringLiteral("w2"));
    QCOMPARE(single.value(kType).toString(), QStringLiteral("ack"));
    QVERIFY(!single.contains(QStringLiteral("warnings")));
}

void TestWebSocket::subscribeAll()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    QVector<qint64> expected;
    expected += publishAcked(*producer, metricEvents(QStringLiteral("x"), 3));
    expected += publishAcked(*producer, logEvents(QStringLiteral("y"), 2));
    expected += publishAcked(*producer, everyType(QStringLiteral("z")));
    QCOMPARE(expected.size(), 3 + 2 + 15);

    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(sub->waitConnected());
    sub->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("*")}, {QStringLiteral("id"), 5}});
    const QJsonObject subscribed = sub->waitMessage(QStringLiteral("subscribed"));
    QVERIFY(!subscribed.isEmpty());
    QCOMPARE(subscribed.value(kRun).toString(), QStringLiteral("*"));
    QCOMPARE(qint64(subscribed.value(QStringLiteral("last_seq")).toDouble()), expected.last());

    expected += publishAcked(*producer, metricEvents(QStringLiteral("new-run"), 2));
    expected += publishAcked(*producer, logEvents(QStringLiteral("x"), 2));
    QCOMPARE(expected.size(), 24);
    QVERIFY2(sub->waitEvents(int(expected.size()), 10000), qPrintable(QString::number(sub->events().size())));
    QVERIFY(sync(*sub));
    QCOMPARE(sub->seqs(), expected);
    QSet<QString> runs;
    for (const QJsonObject &e : sub->events())
        runs.insert(e.value(kRun).toString());
    QCOMPARE(runs, (QSet<QString>{QStringLiteral("x"), QStringLiteral("y"), QStringLiteral("z"), QStringLiteral("new-run")}));
}

void TestWebSocket::unsubscribeStopsDelivery()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr witness = openProbe(srv.ws(QStringLiteral("/ws/runs/u")));
    QVERIFY(producer->waitConnected());
    QVERIFY(sub->waitConnected());
    QVERIFY(witness->waitConnected());
    QVERIFY(!witness->waitMessage(QStringLiteral("welcome")).isEmpty());

    sub->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("u")}});
    QVERIFY(!sub->waitMessage(QStringLiteral("subscribed")).isEmpty());
    sub->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("*")}});
    QVERIFY(waitForCount(*sub, QStringLiteral("subscribed"), 2));

    const QVector<qint64> first = publishAcked(*producer, metricEvents(QStringLiteral("u"), 2));
    QCOMPARE(first.size(), 2);
    // Subscribed to "u" and "*": the contract does not say whether overlapping subscriptions
    // deliver twice; wait for both copies or one.
    QVERIFY(witness->waitEvents(2));
    QVERIFY(sub->waitEvents(2));

    sub->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("unsubscribe")}, {QStringLiteral("run"), QStringLiteral("u")}, {QStringLiteral("id"), QStringLiteral("un1")}});
    const QJsonObject un1 = waitAnswer(*sub, QStringLiteral("un1"));
    QCOMPARE(un1.value(kType).toString(), QStringLiteral("unsubscribed"));
    QCOMPARE(un1.value(kRun).toString(), QStringLiteral("u"));
    sub->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("unsubscribe")}, {QStringLiteral("run"), QStringLiteral("*")}, {QStringLiteral("id"), QStringLiteral("un2")}});
    const QJsonObject un2 = waitAnswer(*sub, QStringLiteral("un2"));
    QCOMPARE(un2.value(kType).toString(), QStringLiteral("unsubscribed"));
    QCOMPARE(un2.value(kRun).toString(), QStringLiteral("*"));
    QVERIFY(sync(*sub));
    const int before = int(sub->events().size());

    const QVector<qint64> second = publishAcked(*producer, metricEvents(QStringLiteral("u"), 3, 10));
    QCOMPARE(second.size(), 3);
    QVERIFY(witness->waitEvents(5));
    QVERIFY(sync(*sub));
    QCOMPARE(int(sub->events().size()), before);
    QCOMPARE(witness->seqs(), first + second);
    QVERIFY(sub->isConnected());
}

void TestWebSocket::fanOutToManyClients()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    // A little history first: every client gets it too.
    QVector<qint64> expected = publishAcked(*producer, metricEvents(QStringLiteral("fan"), 10));
    QCOMPARE(expected.size(), 10);

    constexpr int Clients = 100;
    std::vector<ProbePtr> clients;
    for (int i = 0; i < Clients; ++i) {
        // Half by path, half by the subscribe op.
        if (i % 2 == 0)
            clients.push_back(openProbe(srv.ws(QStringLiteral("/ws/runs/fan"))));
        else
            clients.push_back(openProbe(srv.ws(QStringLiteral("/ws"))));
    }
    for (int i = 0; i < Clients; ++i) {
        QVERIFY2(clients[i]->waitConnected(10000), qPrintable(QString::number(i)));
        QVERIFY2(!clients[i]->waitMessage(QStringLiteral("welcome"), 10000).isEmpty(), qPrintable(QString::number(i)));
        if (i % 2 == 1)
            clients[i]->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("fan")}});
    }
    for (int i = 1; i < Clients; i += 2)
        QVERIFY2(!clients[i]->waitMessage(QStringLiteral("subscribed"), 10000).isEmpty(), qPrintable(QString::number(i)));

    for (int op = 0; op < 30; ++op) {
        const QVector<qint64> seqs = publishAcked(*producer, metricEvents(QStringLiteral("fan"), 1 + op % 10, 1000 + op * 10));
        QCOMPARE(seqs.size(), 1 + op % 10);
        expected += seqs;
        if (op % 5 == 0)
            QCOMPARE(publishAcked(*producer, metricEvents(QStringLiteral("not-fan"), 2)).size(), 2);
    }
    for (int i = 0; i < Clients; ++i) {
        QVERIFY2(clients[i]->waitEvents(int(expected.size()), 20000),
                 qPrintable(QStringLiteral("client %1 got %2 of %3").arg(i).arg(clients[i]->events().size()).arg(expected.size())));
    }
    for (int i = 0; i < Clients; ++i)
        QVERIFY(sync(*clients[i]));
    for (int i = 0; i < Clients; ++i) {
        QCOMPARE(clients[i]->seqs(), expected);
        QVERIFY(clients[i]->isConnected());
    }
}

void TestWebSocket::selectiveDelivery()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    QCOMPARE(publishAcked(*producer, metricEvents(QStringLiteral("B"), 5)).size(), 5);
    const QVector<qint64> aHistory = publishAcked(*producer, metricEvents(QStringLiteral("A"), 2));

    ProbePtr byPath = openProbe(srv.ws(QStringLiteral("/ws/runs/A")));
    ProbePtr byOp = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(byPath->waitConnected());
    QVERIFY(byOp->waitConnected());
    QVERIFY(!byPath->waitMessage(QStringLiteral("welcome")).isEmpty());
    byOp->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("A")}});
    QVERIFY(!byOp->waitMessage(QStringLiteral("subscribed")).isEmpty());

    QCOMPARE(publishAcked(*producer, everyType(QStringLiteral("B"))).size(), 15);
    QCOMPARE(publishAcked(*producer, logEvents(QStringLiteral("AB"), 3)).size(), 3);
    const QVector<qint64> aLive = publishAcked(*producer, logEvents(QStringLiteral("A"), 1));
    QCOMPARE(aLive.size(), 1);
    for (Probe *p : {byPath.get(), byOp.get()}) {
        QVERIFY(p->waitEvents(3));
        QVERIFY(sync(*p));
        QCOMPARE(p->seqs(), aHistory + aLive);
        for (const QJsonObject &e : p->events())
            QCOMPARE(e.value(kRun).toString(), QStringLiteral("A"));
    }
}

void TestWebSocket::lifecycleStream()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());

    QVector<qint64> expected;
    auto publishAll = [&](const QJsonArray &events) {
        const QVector<qint64> seqs = publishAcked(*producer, events);
        if (seqs.size() != events.size())
            return false;
        for (int i = 0; i < events.size(); ++i) {
            if (isLifecycleType(events.at(i).toObject().value(kType).toString()))
                expected.append(seqs.at(i));
        }
        return true;
    };
    QVERIFY(publishAll(everyType(QStringLiteral("L1"))));
    QVERIFY(publishAll(everyType(QStringLiteral("L2"))));
    const int historyCount = int(expected.size());
    QCOMPARE(historyCount, 2 * 7);

    ProbePtr stream = openProbe(srv.ws(QStringLiteral("/ws/runs")));
    QVERIFY(stream->waitConnected());
    QVERIFY(!stream->waitMessage(QStringLiteral("welcome")).isEmpty());
    QVERIFY(stream->waitEvents(historyCount));

    QVERIFY(publishAll(everyType(QStringLiteral("L3"))));
    QVERIFY(publishAll(metricEvents(QStringLiteral("L1"), 20)));
    QVERIFY(publishAll(everyType(QStringLiteral("L1"))));
    QVERIFY2(stream->waitEvents(int(expected.size()), 10000), qPrintable(QString::number(stream->events().size())));
    QVERIFY(sync(*stream));
    QCOMPARE(stream->seqs(), expected);
    QSet<QString> runs;
    for (const QJsonObject &e : stream->events()) {
        QVERIFY2(isLifecycleType(e.value(kType).toString()), qPrintable(e.value(kType).toString()));
        runs.insert(e.value(kRun).toString());
    }
    QCOMPARE(runs, (QSet<QString>{QStringLiteral("L1"), QStringLiteral("L2"), QStringLiteral("L3")}));
    QCOMPARE(ofType(*stream, QStringLiteral("subscribed")).size(), 0);
}

void TestWebSocket::batchFrames()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/bt")));
    QVERIFY(sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());
    QStringList frames;
    connect(&sub->socket(), &QWebSocket::textMessageReceived, this, [&](const QString &text) { frames.append(text); });

    QVector<qint64> expected;
    expected += publishAcked(*producer, metricEvents(QStringLiteral("bt"), 200));
    expected += publishAcked(*producer, metricEvents(QStringLiteral("bt"), 1, 500));
    expected += publishAcked(*producer, everyType(QStringLiteral("bt")));
    QCOMPARE(expected.size(), 216);
    QVERIFY(sub->waitEvents(int(expected.size())));
    QVERIFY(sync(*sub));
    QCOMPARE(sub->seqs(), expected);

    // Parse every frame independently of the probe: either one envelope or a batch of them.
    const QRegularExpression rfc3339(QStringLiteral("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$"));
    QVector<qint64> fromFrames;
    int batches = 0;
    for (const QString &frame : std::as_const(frames)) {
        QJsonParseError error{};
        const QJsonDocument doc = QJsonDocument::fromJson(frame.toUtf8(), &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
        QVERIFY(doc.isObject());
        const QJsonObject object = doc.object();
        QVector<QJsonObject> envelopes;
        if (object.value(kType).toString() == QLatin1String("batch")) {
            ++batches;
            QVERIFY(object.value(QStringLiteral("events")).isArray());
            const QJsonArray events = object.value(QStringLiteral("events")).toArray();
            QVERIFY(!events.isEmpty());
            for (const QJsonValue &v : events) {
                QVERIFY(v.isObject());
                envelopes.append(v.toObject());
            }
        } else if (object.contains(kSeq)) {
            envelopes.append(object);
        } else {
            continue; // pong etc.
        }
        for (const QJsonObject &e : std::as_const(envelopes)) {
            QVERIFY(e.value(kSeq).isDouble());
            QCOMPARE(e.value(kRun).toString(), QStringLiteral("bt"));
            QVERIFY(!e.value(kType).toString().isEmpty());
            QVERIFY2(rfc3339.match(e.value(QStringLiteral("ts")).toString()).hasMatch(), qPrintable(e.value(QStringLiteral("ts")).toString()));
            QVERIFY(e.value(QStringLiteral("data")).isObject());
            fromFrames.append(qint64(e.value(kSeq).toDouble()));
        }
    }
    QCOMPARE(fromFrames, expected);
    qInfo("%d frames, %d of them batches, for %d events", int(frames.size()), batches, int(expected.size()));
    // The metric data arrives unchanged.
    const QJsonObject last = sub->events().at(200);
    QCOMPARE(last.value(kType).toString(), QStringLiteral("metric"));
    QCOMPARE(last.value(QStringLiteral("data")).toObject().value(QStringLiteral("step")).toInt(), 500);
    QCOMPARE(last.value(QStringLiteral("data")).toObject().value(QStringLiteral("loss")).toDouble(), 1.0 / 501);
}

void TestWebSocket::nonFiniteMetrics_data()
{
    QTest::addColumn<QString>("literal");
    QTest::addColumn<QString>("expected");
    QTest::newRow("bare NaN") << QStringLiteral("NaN") << QStringLiteral("NaN");
    QTest::newRow("bare Infinity") << QStringLiteral("Infinity") << QStringLiteral("Infinity");
    QTest::newRow("bare -Infinity") << QStringLiteral("-Infinity") << QStringLiteral("-Infinity");
    QTest::newRow("string NaN") << QStringLiteral("\"NaN\"") << QStringLiteral("NaN");
    QTest::newRow("string Infinity") << QStringLiteral("\"Infinity\"") << QStringLiteral("Infinity");
    QTest::newRow("string -Infinity") << QStringLiteral("\"-Infinity\"") << QStringLiteral("-Infinity");
}

void TestWebSocket::nonFiniteMetrics()
{
    QFETCH(QString, literal);
    QFETCH(QString, expected);
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/nf")));
    QVERIFY(producer->waitConnected());
    QVERIFY(sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());

    // Written by hand, the way Python's json.dumps writes it; a message text with the token must
    // stay a plain string.
    producer->sendText(QStringLiteral("{\"op\":\"publish\",\"id\":\"nf\",\"events\":["
                                      "{\"run\":\"nf\",\"type\":\"metric\",\"data\":{\"step\":3,\"loss\":%1,\"lr\":0.5}},"
                                      "{\"run\":\"nf\",\"type\":\"log\",\"data\":{\"message\":\"loss is NaN, Infinity\"}}]}")
                           .arg(literal));
    const QJsonObject ack = waitAnswer(*producer, QStringLiteral("nf"));
    QVERIFY2(ack.value(kType).toString() == QLatin1String("ack"), QJsonDocument(ack).toJson(QJsonDocument::Compact).constData());
    QVERIFY(sub->waitEvents(2));
    const QJsonObject data = sub->events().at(0).value(QStringLiteral("data")).toObject();
    QVERIFY2(data.value(QStringLiteral("loss")).isString(), "a non-finite metric must arrive as a string");
    QCOMPARE(data.value(QStringLiteral("loss")).toString(), expected);
    QCOMPARE(data.value(QStringLiteral("lr")).toDouble(), 0.5);
    QCOMPARE(data.value(QStringLiteral("step")).toInt(), 3);
    QCOMPARE(sub->events().at(1).value(QStringLiteral("data")).toObject().value(QStringLiteral("message")).toString(),
             QStringLiteral("loss is NaN, Infinity"));

    // Late subscribers get the same thing from history.
    ProbePtr late = openProbe(srv.ws(QStringLiteral("/ws/runs/nf")));
    QVERIFY(late->waitConnected());
    QVERIFY(late->waitEvents(2));
    QCOMPARE(late->events().at(0).value(QStringLiteral("data")).toObject().value(QStringLiteral("loss")).toString(), expected);
}

void TestWebSocket::stepEventsCarryStep_data()
{
    QTest::addColumn<QString>("type");
    QTest::addColumn<QJsonObject>("data");
    QTest::newRow("step_started") << QStringLiteral("step_started") << QJsonObject{{QStringLiteral("name"), QStringLiteral("load data")}};
    QTest::newRow("step_progress") << QStringLiteral("step_progress") << QJsonObject{{QStringLiteral("progress"), 0.5}};
    QTest::newRow("step_completed") << QStringLiteral("step_completed") << QJsonObject{{QStringLiteral("result"), QJsonObject{{QStringLiteral("rows"), 10}}}};
    QTest::newRow("step_failed") << QStringLiteral("step_failed") << QJsonObject{{QStringLiteral("message"), QStringLiteral("boom")}};
}

void TestWebSocket::stepEventsCarryStep()
{
    QFETCH(QString, type);
    QFETCH(QJsonObject, data);
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/st")));
    QVERIFY(producer->waitConnected());
    QVERIFY(sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());
    const QVector<qint64> seqs = publishAcked(*producer, QJsonArray{Test::event(QStringLiteral("st"), type, data, QStringLiteral("step-1.a"))});
    QCOMPARE(seqs.size(), 1);
    QVERIFY(sub->waitEvents(1));
    const QJsonObject e = sub->events().first();
    QCOMPARE(qint64(e.value(kSeq).toDouble()), seqs.first());
    QCOMPARE(e.value(kType).toString(), type);
    QCOMPARE(e.value(QStringLiteral("step")).toString(), QStringLiteral("step-1.a"));
    QCOMPARE(e.value(QStringLiteral("data")).toObject(), data);
}

void TestWebSocket::pingOp_data()
{
    QTest::addColumn<QJsonValue>("id");
    QTest::newRow("string id") << QJsonValue(QStringLiteral("abc"));
    QTest::newRow("number id") << QJsonValue(42);
}

void TestWebSocket::pingOp()
{
    QFETCH(QJsonValue, id);
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr probe = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(probe->waitConnected());
    probe->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("ping")}, {QStringLiteral("id"), id}});
    const QJsonObject pong = waitAnswer(*probe, id);
    QCOMPARE(pong.value(kType).toString(), QStringLiteral("pong"));
    QCOMPARE(pong.value(kId), id);
    // Without an id, still a pong.
    probe->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("ping")}});
    QVERIFY(waitForCount(*probe, QStringLiteral("pong"), 2));
}

void TestWebSocket::unknownOp_data()
{
    QTest::addColumn<QString>("frame");
    QTest::addColumn<bool>("hasId");
    QTest::newRow("unknown op") << QStringLiteral("{\"op\":\"explode\",\"id\":\"u1\"}") << true;
    QTest::newRow("op is a number") << QStringLiteral("{\"op\":7,\"id\":\"u1\"}") << true;
    QTest::newRow("missing op") << QStringLiteral("{\"run\":\"r\",\"id\":\"u1\"}") << true;
    QTest::newRow("unknown op without id") << QStringLiteral("{\"op\":\"PUBLISH\"}") << false;
}

void TestWebSocket::unknownOp()
{
    QFETCH(QString, frame);
    QFETCH(bool, hasId);
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr probe = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/k")));
    QVERIFY(probe->waitConnected());
    QVERIFY(sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());
    const QVector<qint64> before = publishAcked(*probe, metricEvents(QStringLiteral("k"), 2));
    QCOMPARE(before.size(), 2);

    probe->sendText(frame);
    QVERIFY(waitForCount(*probe, QStringLiteral("error"), 1));
    const QJsonObject error = ofType(*probe, QStringLiteral("error")).first();
    QCOMPARE(error.value(QStringLiteral("code")).toString(), QStringLiteral("UNKNOWN_OP"));
    QVERIFY(!error.value(QStringLiteral("message")).toString().isEmpty());
    if (hasId)
        QCOMPARE(error.value(kId).toString(), QStringLiteral("u1"));

    // Still usable.
    QVERIFY(sync(*probe));
    const QVector<qint64> after = publishAcked(*probe, metricEvents(QStringLiteral("k"), 2, 5));
    QCOMPARE(after.size(), 2);
    QVERIFY(sub->waitEvents(4));
    QCOMPARE(sub->seqs(), before + after);
    QVERIFY(probe->isConnected());
}

void TestWebSocket::invalidJsonLosesNothing_data()
{
    QTest::addColumn<QString>("frame");
    QTest::newRow("truncated") << QStringLiteral("{\"op\":\"publish\",\"events\":[{\"run\":\"j\"");
    QTest::newRow("garbage") << QStringLiteral("this is not json");
    QTest::newRow("empty") << QString();
    QTest::newRow("array") << QStringLiteral("[{\"op\":\"ping\"}]");
    QTest::newRow("number") << QStringLiteral("42");
    QTest::newRow("string") << QStringLiteral("\"publish\"");
    QTest::newRow("trailing garbage") << QStringLiteral("{\"op\":\"ping\"} x");
}

void TestWebSocket::invalidJsonLosesNothing()
{
    QFETCH(QString, frame);
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/j")));
    QVERIFY(producer->waitConnected());
    QVERIFY(sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());

    QVector<qint64> expected = publishAcked(*producer, metricEvents(QStringLiteral("j"), 3));
    QCOMPARE(expected.size(), 3);
    // Unacknowledged publish right before the bad frame: it must not be lost either.
    producer->send(Test::publishOp(metricEvents(QStringLiteral("j"), 2, 10)));
    producer->sendText(frame);
    QVERIFY(waitForCount(*producer, QStringLiteral("error"), 1));
    QCOMPARE(ofType(*producer, QStringLiteral("error")).first().value(QStringLiteral("code")).toString(), QStringLiteral("INVALID_JSON"));
    const QVector<qint64> after = publishAcked(*producer, metricEvents(QStringLiteral("j"), 3, 20));
    QCOMPARE(after.size(), 3);
    QVERIFY(producer->isConnected());
    QCOMPARE(ofType(*producer, QStringLiteral("error")).size(), 1);

    QVERIFY(sub->waitEvents(8));
    QVERIFY(sync(*sub));
    const QVector<qint64> seen = sub->seqs();
    QCOMPARE(seen.size(), 8);
    QVERIFY(strictlyIncreasing(seen));
    QCOMPARE(seen.mid(0, 3), expected);
    QCOMPARE(seen.mid(5), after);
}

void TestWebSocket::binaryFrame()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/bin")));
    QVERIFY(producer->waitConnected());
    QVERIFY(sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());
    const QVector<qint64> before = publishAcked(*producer, metricEvents(QStringLiteral("bin"), 2));
    QCOMPARE(before.size(), 2);
    // Even a binary frame holding a valid publish op is refused, not half-accepted.
    producer->socket().sendBinaryMessage(QJsonDocument(Test::publishOp(metricEvents(QStringLiteral("bin"), 1, 99), QStringLiteral("b"))).toJson(QJsonDocument::Compact));
    QVERIFY(waitForCount(*producer, QStringLiteral("error"), 1));
    QCOMPARE(ofType(*producer, QStringLiteral("error")).first().value(QStringLiteral("code")).toString(), QStringLiteral("INVALID_JSON"));
    const QVector<qint64> after = publishAcked(*producer, metricEvents(QStringLiteral("bin"), 2, 5));
    QCOMPARE(after.size(), 2);
    QVERIFY(producer->isConnected());
    QVERIFY(sub->waitEvents(4));
    QVERIFY(sync(*sub));
    QCOMPARE(sub->seqs(), before + after);
}

void TestWebSocket::deleteRunNotifiesSubscribers()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    QCOMPARE(publishAcked(*producer, everyType(QStringLiteral("del"))).size(), 15);
    QCOMPARE(publishAcked(*producer, metricEvents(QStringLiteral("keep"), 2)).size(), 2);

    ProbePtr byRun = openProbe(srv.ws(QStringLiteral("/ws/runs/del")));
    ProbePtr lifecycle = openProbe(srv.ws(QStringLiteral("/ws/runs")));
    ProbePtr all = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr other = openProbe(srv.ws(QStringLiteral("/ws/runs/keep")));
    for (Probe *p : {byRun.get(), lifecycle.get(), all.get(), other.get()}) {
        QVERIFY(p->waitConnected());
        QVERIFY(!p->waitMessage(QStringLiteral("welcome")).isEmpty());
    }
    all->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("*")}});
    QVERIFY(!all->waitMessage(QStringLiteral("subscribed")).isEmpty());
    QVERIFY(byRun->waitEvents(15));
    QVERIFY(other->waitEvents(2));

    QNetworkAccessManager nam;
    const HttpResult deleted = httpCall(nam, "DELETE", srv.http(QStringLiteral("/api/runs/del")));
    QCOMPARE(deleted.status, 200);

    for (Probe *p : {byRun.get(), lifecycle.get(), all.get()}) {
        const QJsonObject notice = p->waitMessage(QStringLiteral("run_deleted"));
        QVERIFY2(!notice.isEmpty(), "a subscriber of the deleted run must be told");
        QCOMPARE(notice.value(kRun).toString(), QStringLiteral("del"));
        QCOMPARE(ofType(*p, QStringLiteral("run_deleted")).size(), 1);
    }
    QVERIFY(sync(*other));
    QCOMPARE(ofType(*other, QStringLiteral("run_deleted")).size(), 0);

    QCOMPARE(httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/del"))).status, 404);
    QCOMPARE(httpCall(nam, "DELETE", srv.http(QStringLiteral("/api/runs/del"))).status, 404);
    // A new subscriber of the deleted run gets no history.
    ProbePtr late = openProbe(srv.ws(QStringLiteral("/ws/runs/del")));
    QVERIFY(late->waitConnected());
    QVERIFY(!late->waitMessage(QStringLiteral("welcome")).isEmpty());
    QVERIFY(sync(*late));
    QCOMPARE(late->events().size(), 0);
}

void TestWebSocket::shutdownClosesWith1001()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    const QStringList paths{QStringLiteral("/ws"), QStringLiteral("/ws/runs"), QStringLiteral("/ws/runs/sd")};
    std::vector<ProbePtr> probes;
    for (const QString &path : paths) {
        probes.push_back(openProbe(srv.ws(path)));
        QVERIFY(probes.back()->waitConnected());
        QVERIFY(!probes.back()->waitMessage(QStringLiteral("welcome")).isEmpty());
    }
    probes.front()->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("*")}});
    QVERIFY(!probes.front()->waitMessage(QStringLiteral("subscribed")).isEmpty());
    QCOMPARE(publishAcked(*probes.front(), everyType(QStringLiteral("sd"))).size(), 15);
    QVERIFY(probes.back()->waitEvents(15));

    srv.stop();
    for (int i = 0; i < int(probes.size()); ++i) {
        QVERIFY2(probes[i]->waitClosed(10000), qPrintable(paths.at(i)));
        QCOMPARE(probes[i]->closeCode(), 1001);
    }
}

void TestWebSocket::seqContinuesAfterRestart()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ServerConfig config;
    config.dataDir = dir.path();

    qint64 highest = 0;
    for (int life = 0; life < 3; ++life) {
        Test::TestServer srv(config);
        QVERIFY2(srv.start(), qPrintable(QStringLiteral("start %1").arg(life)));
        ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
        QVERIFY(producer->waitConnected());
        const QJsonObject welcome = producer->waitMessage(QStringLiteral("welcome"));
        QVERIFY(!welcome.isEmpty());
        QVERIFY2(qint64(welcome.value(QStringLiteral("last_seq")).toDouble()) >= highest,
                 "last_seq after a restart must not be below a seq already handed out");
        for (int i = 0; i < 5; ++i) {
            const QVector<qint64> seqs = publishAcked(*producer, metricEvents(QStringLiteral("restart-%1").arg(i % 2), 1 + i, i * 10));
            QCOMPARE(seqs.size(), 1 + i);
            QVERIFY2(seqs.first() > highest,
                     qPrintable(QStringLiteral("life %1: seq %2 reused (highest before: %3)").arg(life).arg(seqs.first()).arg(highest)));
            QVERIFY(strictlyIncreasing(seqs));
            highest = seqs.last();
        }
        producer.reset();
        srv.stop();
    }
}

QTEST_MAIN(TestWebSocket)
#include "tst_websocket.moc"
