// Tests for server/fanout/viewerfeed.h against a real server: real WebSocket producers publish, a
// consumer on the test's main thread takes the feed's batches the way the window does.
#include "testsupport.h"
#include "viewerfeed.h"
#include "workspace.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMutex>
#include <QMutexLocker>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <QWebSocket>

#include <atomic>
#include <memory>

using namespace Runwatch;

namespace {

QString s(const char *text)
{
    return QString::fromUtf8(text);
}

// Takes the feed's batches on the main thread: records seqs, applies them to a Workspace and
// tells the feed it is ready for more, unless told to hold on.
class Consumer : public QObject
{
public:
    explicit Consumer(ViewerFeed *feed)
        : m_feed(feed)
    {
        QObject::connect(feed, &ViewerFeed::events, this, &Consumer::onEvents, Qt::QueuedConnection);
    }

    void onEvents(const EventBatch &batch)
    {
        ++batches;
        if (!batch.isEmpty())
            firstSeqOfBatch.append(batch.first().seq);
        for (const Event &event : batch)
            seqs.append(event.seq);
        workspace.apply(batch);
        if (consuming)
            m_feed->consumed();
        else
            holding = true;
    }

    // Starts taking batches again.
    void resume()
    {
        consuming = true;
        if (holding) {
            holding = false;
            m_feed->consumed();
        }
    }

    qint64 maxSeq() const { return seqs.isEmpty() ? 0 : seqs.last(); }

    bool consuming = true;
    bool holding = false;
    int batches = 0;
    QVector<qint64> seqs;
    QVector<qint64> firstSeqOfBatch;
    Workspace workspace;

private:
    ViewerFeed *m_feed;
};

// What is wrong with a received seq sequence compared with 1..last: empty when it is exactly that.
QString checkComplete(const QVector<qint64> &seqs, qint64 last)
{
    qint64 duplicates = 0, outOfOrder = 0;
    QVector<bool> seen(last + 1, false);
    qint64 previous = 0;
    for (qint64 seq : seqs) {
        if (seq <= previous)
            ++outOfOrder;
        previous = qMax(previous, seq);
        if (seq < 1 || seq > last)
            continue;
        if (seen.at(seq))
            ++duplicates;
        seen[seq] = true;
    }
    qint64 missing = 0, firstMissing = -1, lastMissing = -1;
    for (qint64 seq = 1; seq <= last; ++seq) {
        if (!seen.at(seq)) {
            ++missing;
            if (firstMissing < 0)
                firstMissing = seq;
            lastMissing = seq;
        }
    }
    if (missing == 0 && duplicates == 0 && outOfOrder == 0 && seqs.size() == last)
        return QString();
    return QStringLiteral("received %1 events for seqs 1..%2: %3 missing (first %4, last %5), %6 duplicates, %7 out of order")
        .arg(seqs.size()).arg(last).arg(missing).arg(firstMissing).arg(lastMissing).arg(duplicates).arg(outOfOrder);
}

// A producer on a thread of its own with its own event loop: a real QWebSocket that publishes
// `perOp` metric events with an id every `intervalMs` and counts the acks it gets back.
class ThreadedProducer
{
public:
    ThreadedProducer(const QUrl &url, const QString &run, int perOp, int intervalMs)
        : m_url(url), m_run(run), m_perOp(perOp), m_intervalMs(intervalMs)
    {
        m_thread.setObjectName(QStringLiteral("producer"));
        m_thread.start();
        m_context = new QObject;
        m_context->moveToThread(&m_thread);
        QMetaObject::invokeMethod(
            m_context,
            [this] {
                m_socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, m_context);
                m_timer = new QTimer(m_context);
                m_timer->setInterval(m_intervalMs);
                QObject::connect(m_timer, &QTimer::timeout, m_context, [this] { publishOne(); });
                QObject::connect(m_socket, &QWebSocket::connected, m_context, [this] {
                    connected.store(true);
                    if (m_running)
                        m_timer->start();
                });
                QObject::connect(m_socket, &QWebSocket::textMessageReceived, m_context, [this](const QString &text) {
                    const QJsonObject object = QJsonDocument::fromJson(text.toUtf8()).object();
                    const QString type = object.value(QLatin1String("type")).toString();
                    if (type == QLatin1String("ack")) {
                        QMutexLocker lock(&m_mutex);
                        for (const QJsonValue &seq : object.value(QLatin1String("seq")).toArray())
                            m_seqs.append(qint64(seq.toDouble()));
                        acked.fetch_add(1);
                    } else if (type == QLatin1String("error")) {
                        errors.fetch_add(1);
                    }
                });
                m_socket->open(m_url);
            },
            Qt::BlockingQueuedConnection);
    }

    ~ThreadedProducer()
    {
        QMetaObject::invokeMethod(
            m_context,
            [this] {
                m_timer->stop();
                m_socket->abort();
                delete m_context;
            },
            Qt::BlockingQueuedConnection);
        m_thread.quit();
        m_thread.wait();
    }

    void startPublishing()
    {
        QMetaObject::invokeMethod(
            m_context,
            [this] {
                m_running = true;
                if (connected.load())
                    m_timer->start();
            },
            Qt::BlockingQueuedConnection);
    }

    void stopPublishing()
    {
        QMetaObject::invokeMethod(
            m_context,
            [this] {
                m_running = false;
                m_timer->stop();
            },
            Qt::BlockingQueuedConnection);
    }

    bool waitAllAcked(int timeoutMs)
    {
        return QTest::qWaitFor([this] { return acked.load() == sent.load(); }, timeoutMs);
    }

    QVector<qint64> ackedSeqs() const
    {
        QMutexLocker lock(&m_mutex);
        return m_seqs;
    }

    std::atomic<bool> connected{false};
    std::atomic<int> sent{0};
    std::atomic<int> acked{0};
    std::atomic<int> errors{0};

private:
    void publishOne()
    {
        QJsonArray events;
        for (int i = 0; i < m_perOp; ++i) {
            const int n = m_step++;
            events.append(Test::event(m_run, QStringLiteral("metric"),
                                      {{QStringLiteral("step"), n}, {QStringLiteral("loss"), 1.0 / (n + 1)}}));
        }
        const int id = sent.load() + 1;
        m_socket->sendTextMessage(QString::fromUtf8(QJsonDocument(Test::publishOp(events, id)).toJson(QJsonDocument::Compact)));
        sent.store(id);
    }

    QUrl m_url;
    QString m_run;
    int m_perOp;
    int m_intervalMs;
    int m_step = 0;
    bool m_running = false;
    QThread m_thread;
    QObject *m_context = nullptr;
    QWebSocket *m_socket = nullptr;
    QTimer *m_timer = nullptr;
    mutable QMutex m_mutex;
    QVector<qint64> m_seqs;
};

// A publish op of `count` small metric events as text (cheaper than building QJsonObjects).
QString bulkPublish(const QString &run, int firstStep, int count, int id)
{
    QString text;
    text.reserve(count * 72 + 64);
    text += QStringLiteral("{\"op\":\"publish\",\"id\":%1,\"events\":[").arg(id);
    for (int i = 0; i < count; ++i) {
        if (i)
            text += QLatin1Char(',');
        text += QStringLiteral("{\"run\":\"%1\",\"type\":\"metric\",\"data\":{\"step\":%2,\"loss\":0.5}}").arg(run).arg(firstStep + i);
    }
    text += QStringLiteral("]}");
    return text;
}

int countMessages(const Test::WsProbe &probe, const QString &type)
{
    int n = 0;
    for (const QJsonObject &m : probe.messages())
        n += m.value(QLatin1String("type")).toString() == type;
    return n;
}

// The seqs the server acknowledged to a probe, in ack order.
QVector<qint64> ackedSeqs(const Test::WsProbe &probe)
{
    QVector<qint64> out;
    for (const QJsonObject &m : probe.messages()) {
        if (m.value(QLatin1String("type")).toString() == QLatin1String("ack"))
            for (const QJsonValue &seq : m.value(QLatin1String("seq")).toArray())
                out.append(qint64(seq.toDouble()));
    }
    return out;
}

} // namespace

class TestViewerFeed : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void everyEventOnceInOrder();
    void batchesCoalesceEvents();
    void blockedUiDoesNotSlowServer();
    void consumerNotConsumingDoesNotSlowServer();
    void overflowRereadsFromStore();
    void historyThenLiveWithoutGap();
    void statusReportsClientsAndLastSeq();
};

void TestViewerFeed::initTestCase()
{
    qRegisterMetaType<Runwatch::EventBatch>();
    qRegisterMetaType<Runwatch::ViewerFeed::Status>();
}

void TestViewerFeed::everyEventOnceInOrder()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ViewerFeed *feed = srv.server().createViewerFeed();
    QVERIFY(feed);
    Consumer consumer(feed);

    Test::WsProbe probe;
    probe.open(srv.ws(s("/ws")));
    QVERIFY(probe.waitConnected());
    const int ops = 40, perOp = 25;
    int metricEvents = 0;
    for (int op = 0; op < ops; ++op) {
        QJsonArray events;
        for (int i = 0; i < perOp; ++i) {
            const QString run = QStringLiteral("run%1").arg((op + i) % 3);
            if (i % 5 == 4) {
                events.append(Test::event(run, s("log"), {{s("level"), s("info")}, {s("message"), QStringLiteral("op %1 #%2").arg(op).arg(i)}}));
            } else {
                events.append(Test::event(run, s("metric"), {{s("step"), op * perOp + i}, {s("loss"), 1.0 / (op + 1)}}));
                ++metricEvents;
            }
        }
        probe.send(Test::publishOp(events, op + 1));
        if (op % 10 == 9) {
            // The next ten once the consumer has everything acked so far: several batches for sure.
            QTRY_COMPARE_WITH_TIMEOUT(countMessages(probe, s("ack")), op + 1, 10000);
            const qint64 ackedSoFar = ackedSeqs(probe).last();
            QTRY_VERIFY_WITH_TIMEOUT(consumer.maxSeq() >= ackedSoFar, 10000);
        }
    }
    QTRY_COMPARE_WITH_TIMEOUT(countMessages(probe, s("ack")), ops, 10000);
    QCOMPARE(countMessages(probe, s("error")), 0);
    const QVector<qint64> acked = ackedSeqs(probe);
    QCOMPARE(acked.size(), ops * perOp);
    const qint64 last = acked.last();

    QTRY_VERIFY_WITH_TIMEOUT(consumer.maxSeq() >= last, 10000);
    QTest::qWait(150); // fixed on purpose: staying a while proves no extra (a duplicate) arrives
    const QString problem = checkComplete(consumer.seqs, last);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    QCOMPARE(consumer.seqs, acked);

    // What arrived is the events themselves: the workspace built from them matches.
    QCOMPARE(consumer.workspace.eventsApplied(), qint64(ops * perOp));
    qint64 points = 0;
    for (const QString &run : consumer.workspace.runIds())
        points += consumer.workspace.run(run)->series(s("loss"))->size();
    QCOMPARE(points, qint64(metricEvents));
    QCOMPARE(consumer.workspace.runIds().size(), 3);
    QVERIFY2(consumer.batches >= ops / 10, qPrintable(QStringLiteral("%1 batches").arg(consumer.batches)));
}

// Events that come one per publish op, faster than the feed's interval, reach the window
// coalesced: far fewer batches (refreshes) than events, every event once and in order.
void TestViewerFeed::batchesCoalesceEvents()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ViewerFeed *feed = srv.server().createViewerFeed();
    QVERIFY(feed);
    Consumer consumer(feed);
    ThreadedProducer producer(srv.ws(s("/ws")), s("fast"), 1, 2); // a publish op of one event every ~2 ms
    QTRY_VERIFY_WITH_TIMEOUT(producer.connected.load(), 5000);
    producer.startPublishing();
    QTRY_VERIFY_WITH_TIMEOUT(consumer.batches > 0, 5000);

    // A count of events, not a time: however long they take to arrive.
    const int batchesBefore = consumer.batches;
    const qint64 eventsBefore = consumer.seqs.size();
    QTRY_VERIFY_WITH_TIMEOUT(consumer.seqs.size() - eventsBefore >= 500, 30000);
    const int batches = consumer.batches - batchesBefore;
    const qint64 events = consumer.seqs.size() - eventsBefore;
    producer.stopPublishing();

    qInfo("%lld events (one per publish op) in %d batches", events, batches);
    QVERIFY(batches >= 1);
    // Coalesced: clearly fewer batches than publish ops (two events a batch at the very least).
    QVERIFY2(events >= 2 * qint64(batches), qPrintable(QStringLiteral("%1 events in %2 batches").arg(events).arg(batches)));

    QVERIFY(producer.waitAllAcked(10000));
    const QVector<qint64> acked = producer.ackedSeqs();
    QTRY_VERIFY_WITH_TIMEOUT(consumer.maxSeq() >= acked.last(), 10000);
    const QString problem = checkComplete(consumer.seqs, acked.last());
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

void TestViewerFeed::blockedUiDoesNotSlowServer()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ViewerFeed *feed = srv.server().createViewerFeed();
    QVERIFY(feed);
    Consumer consumer(feed);
    ThreadedProducer producer(srv.ws(s("/ws")), s("busy"), 20, 10);
    QTRY_VERIFY_WITH_TIMEOUT(producer.connected.load(), 5000);
    producer.startPublishing();
    QTRY_VERIFY_WITH_TIMEOUT(producer.acked.load() >= 10 && consumer.batches > 0, 5000);

    // The main thread (the UI) is stuck: no event loop, no consumed(), until the producer has had
    // another 100 publishes acknowledged (10 s at most). Sleeping is the point: a blocked UI thread.
    const int sentBefore = producer.sent.load();
    const int ackedBefore = producer.acked.load();
    const int wanted = 100;
    QElapsedTimer blocked;
    blocked.start();
    while (producer.acked.load() < ackedBefore + wanted && blocked.elapsed() < 10000)
        QThread::msleep(10);
    const int sentDuring = producer.sent.load() - sentBefore;
    const int ackedDuring = producer.acked.load() - ackedBefore;
    qInfo("while blocked: %d ops sent, %d acks received", sentDuring, ackedDuring);
    QVERIFY2(ackedDuring >= wanted,
             qPrintable(QStringLiteral("%1 ops sent but only %2 acks received while the UI was blocked").arg(sentDuring).arg(ackedDuring)));

    producer.stopPublishing();
    QVERIFY(producer.waitAllAcked(10000));
    QCOMPARE(producer.errors.load(), 0);
    const QVector<qint64> acked = producer.ackedSeqs();
    QCOMPARE(acked.size(), producer.sent.load() * 20);
    // Afterwards the UI catches up with every event, in order.
    QTRY_VERIFY_WITH_TIMEOUT(consumer.maxSeq() >= acked.last(), 10000);
    const QString problem = checkComplete(consumer.seqs, acked.last());
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    QCOMPARE(consumer.workspace.run(s("busy"))->series(s("loss"))->size(), acked.size());
}

void TestViewerFeed::consumerNotConsumingDoesNotSlowServer()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ViewerFeed *feed = srv.server().createViewerFeed();
    QVERIFY(feed);
    Consumer consumer(feed);
    consumer.consuming = false; // takes one batch and then never says it is done
    ThreadedProducer producer(srv.ws(s("/ws")), s("stuck"), 20, 5);
    QTRY_VERIFY_WITH_TIMEOUT(producer.connected.load(), 5000);
    producer.startPublishing();
    QTRY_VERIFY_WITH_TIMEOUT(consumer.batches == 1, 5000);

    // Acks keep coming although the viewer is not taking anything.
    const int ackedBefore = producer.acked.load();
    QTRY_VERIFY_WITH_TIMEOUT(producer.acked.load() >= ackedBefore + 100, 10000);
    QCOMPARE(consumer.batches, 1); // one batch in flight at a time
    producer.stopPublishing();
    QVERIFY(producer.waitAllAcked(10000));
    QCOMPARE(consumer.batches, 1);

    consumer.resume();
    const QVector<qint64> acked = producer.ackedSeqs();
    QTRY_VERIFY_WITH_TIMEOUT(consumer.maxSeq() >= acked.last(), 10000);
    const QString problem = checkComplete(consumer.seqs, acked.last());
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

void TestViewerFeed::overflowRereadsFromStore()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ViewerFeed *feed = srv.server().createViewerFeed();
    QVERIFY(feed);
    Consumer consumer(feed);
    consumer.consuming = false;

    Test::WsProbe probe;
    probe.open(srv.ws(s("/ws")));
    QVERIFY(probe.waitConnected());
    // One event first, so the consumer holds a batch and everything after it has to wait.
    probe.sendText(bulkPublish(s("flood"), 0, 1, 1));
    QTRY_COMPARE_WITH_TIMEOUT(consumer.batches, 1, 5000);

    const int perOp = 10000;
    const int ops = ViewerFeed::MaxPendingEvents / perOp + 3; // well past the pending bound
    for (int op = 0; op < ops; ++op) {
        probe.sendText(bulkPublish(s("flood"), 1 + op * perOp, perOp, op + 2));
        if (op % 4 == 3)
            QTRY_COMPARE_WITH_TIMEOUT(countMessages(probe, s("ack")), op + 2, 30000);
    }
    QTRY_COMPARE_WITH_TIMEOUT(countMessages(probe, s("ack")), ops + 1, 30000);
    QCOMPARE(countMessages(probe, s("error")), 0);
    const qint64 total = 1 + qint64(ops) * perOp;
    QVERIFY(total > ViewerFeed::MaxPendingEvents);
    const QVector<qint64> acked = ackedSeqs(probe);
    QCOMPARE(acked.size(), total);
    QCOMPARE(consumer.batches, 1);

    consumer.resume();
    QTRY_VERIFY_WITH_TIMEOUT(consumer.maxSeq() >= acked.last(), 30000);
    QTest::qWait(150); // fixed on purpose: staying a while proves no extra (a duplicate) arrives
    const QString problem = checkComplete(consumer.seqs, acked.last());
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    QCOMPARE(consumer.workspace.run(s("flood"))->series(s("loss"))->size(), total);
}

void TestViewerFeed::historyThenLiveWithoutGap()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    // History: more than one feed batch of it.
    Test::WsProbe probe;
    probe.open(srv.ws(s("/ws")));
    QVERIFY(probe.waitConnected());
    const int perOp = 10000, ops = ViewerFeed::MaxBatchEvents / perOp + 1;
    for (int op = 0; op < ops; ++op)
        probe.sendText(bulkPublish(QStringLiteral("hist%1").arg(op % 2), op * perOp, perOp, op + 1));
    QTRY_COMPARE_WITH_TIMEOUT(countMessages(probe, s("ack")), ops, 30000);
    const qint64 history = qint64(ops) * perOp;
    QCOMPARE(ackedSeqs(probe).last(), history);

    // Live events keep coming while the feed starts and catches up.
    ThreadedProducer producer(srv.ws(s("/ws")), s("live"), 10, 5);
    QTRY_VERIFY_WITH_TIMEOUT(producer.connected.load(), 5000);
    producer.startPublishing();
    QTRY_VERIFY_WITH_TIMEOUT(producer.acked.load() >= 5, 5000);

    ViewerFeed *feed = srv.server().createViewerFeed();
    QVERIFY(feed);
    Consumer consumer(feed);
    QTRY_VERIFY_WITH_TIMEOUT(consumer.maxSeq() > history, 20000);
    // Live publishes go on for a while after the feed reached them.
    const int ackedAtCatchUp = producer.acked.load();
    QTRY_VERIFY_WITH_TIMEOUT(producer.acked.load() >= ackedAtCatchUp + 20, 10000);
    producer.stopPublishing();
    QVERIFY(producer.waitAllAcked(10000));
    const QVector<qint64> live = producer.ackedSeqs();
    QVERIFY(!live.isEmpty());
    const qint64 last = qMax(history, live.last());
    QTRY_VERIFY_WITH_TIMEOUT(consumer.maxSeq() >= last, 20000);
    QTest::qWait(150); // fixed on purpose: staying a while proves no extra (a duplicate) arrives

    QVERIFY(!consumer.firstSeqOfBatch.isEmpty());
    QCOMPARE(consumer.firstSeqOfBatch.first(), 1); // history first, from the oldest
    const QString problem = checkComplete(consumer.seqs, last);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    QCOMPARE(consumer.workspace.run(s("live"))->series(s("loss"))->size(), live.size());
    QCOMPARE(consumer.workspace.run(s("hist0"))->series(s("loss"))->size() + consumer.workspace.run(s("hist1"))->series(s("loss"))->size(),
             history);
}

void TestViewerFeed::statusReportsClientsAndLastSeq()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    ViewerFeed *feed = srv.server().createViewerFeed();
    QVERIFY(feed);
    Consumer consumer(feed);
    ViewerFeed::Status last;
    int statuses = 0;
    QObject receiver;
    connect(feed, &ViewerFeed::status, &receiver, [&](const ViewerFeed::Status &status) {
        last = status;
        ++statuses;
    }, Qt::QueuedConnection);

    QTRY_VERIFY_WITH_TIMEOUT(statuses > 0, 5000);
    QCOMPARE(last.clients, 0);
    QCOMPARE(last.lastSeq, 0);

    Test::WsProbe producer, watcher;
    producer.open(srv.ws(s("/ws")));
    watcher.open(srv.ws(s("/ws/runs")));
    QVERIFY(producer.waitConnected());
    QVERIFY(watcher.waitConnected());
    QJsonArray events;
    for (int i = 0; i < 7; ++i)
        events.append(Test::event(s("r"), s("metric"), {{s("step"), i}, {s("loss"), 0.1 * i}}));
    producer.send(Test::publishOp(events, 1));
    const QJsonObject ack = producer.waitMessage(s("ack"));
    QVERIFY(!ack.isEmpty());
    const qint64 lastSeq = qint64(ack.value(s("seq")).toArray().last().toDouble());
    QCOMPARE(lastSeq, 7);

    QTRY_VERIFY_WITH_TIMEOUT(last.clients == 2 && last.lastSeq == lastSeq, 5000);
    QCOMPARE(last.eventsIngested, 7);
    QVERIFY(last.eventsPerSecond >= 0);

    watcher.socket().close();
    QVERIFY(watcher.waitClosed());
    QTRY_COMPARE_WITH_TIMEOUT(last.clients, 1, 5000);
    producer.send(Test::publishOp(QJsonArray{Test::event(s("r"), s("log"), {{s("message"), s("x")}})}, 2));
    QTRY_COMPARE_WITH_TIMEOUT(last.lastSeq, 8, 5000);
    QCOMPARE(last.clients, 1);
}

QTEST_MAIN(TestViewerFeed)
#include "tst_viewerfeed.moc"
