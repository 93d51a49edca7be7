// Crash safety of the real binary (protocol.md: "with id: ack once accepted (and stored)", "seq ...
// never reused, also after a restart"): a producer publishes as fast as acks come back, the process
// is killed with SIGKILL at a random moment, started again on the same data dir, and every event
// that was acknowledged must be there, byte for byte in its data; seqs go on above them. And one
// data dir has one owner: a second process on it is refused.
// The binary is given in the environment variable RUNWATCH_BINARY (set by CTest).

#include "testsupport.h"

#include <QDir>
#include <QFileInfo>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocket>

#include <memory>

#include <signal.h>
#include <sys/types.h>

using namespace Runwatch;
using Test::HttpResult;
using Test::httpCall;
using Test::RunwatchProcess;

namespace {

constexpr int Timeout = 10000;
constexpr int BatchEvents = 50;
constexpr int InFlight = 4;
constexpr int Rounds = 5;
const char *const RunId = "crash";

QString binary()
{
    return qEnvironmentVariable("RUNWATCH_BINARY");
}

QString runId()
{
    return QString::fromLatin1(RunId);
}

// ---------------------------------------------------------------------------------------------
// The process


QStringList serveArguments(const QString &dir)
{
    return {QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data-dir"), dir};
}

QStringList nonEmptyLines(const QByteArray &bytes)
{
    QStringList lines;
    for (const QString &line : QString::fromUtf8(bytes).split(QLatin1Char('\n'))) {
        if (!line.trimmed().isEmpty())
            lines.append(line);
    }
    return lines;
}

// ---------------------------------------------------------------------------------------------
// A producer that keeps a few publish ops in flight and records what each ack acknowledged.

struct Batch {
    QString id;
    QVector<QJsonObject> events;
};

class Producer
{
public:
    // Connects to a (new) server; the previous socket, if any, is dropped.
    ~Producer() { drop(); }

    void open(const QUrl &url)
    {
        drop();
        m_socket = std::make_unique<QWebSocket>();
        m_connected = false;
        QWebSocket *socket = m_socket.get();
        QObject::connect(socket, &QWebSocket::connected, socket, [this] {
            m_connected = true;
            fill();
        });
        QObject::connect(socket, &QWebSocket::textMessageReceived, socket, [this](const QString &text) { onText(text); });
        QObject::connect(socket, &QWebSocket::disconnected, socket, [this] {
            m_connected = false;
            // What had no answer may or may not have been stored: the check is all or nothing.
            for (const Batch &batch : std::as_const(m_inFlight))
                m_unanswered.append(batch);
            m_inFlight.clear();
        });
        socket->open(url);
    }
    bool waitConnected() { return QTest::qWaitFor([this] { return m_connected; }, Timeout); }
    bool waitDisconnected() { return QTest::qWaitFor([this] { return !m_connected; }, Timeout); }

    void setStreaming(bool on)
    {
        m_streaming = on;
        if (on)
            fill();
    }
    // Seqs of acks that come from now on must be above this.
    void setFloor(qint64 floor) { m_floor = floor; }

    const QMap<qint64, QJsonObject> &acked() const { return m_acked; }
    qint64 maxAcked() const { return m_acked.isEmpty() ? 0 : m_acked.lastKey(); }
    const QVector<Batch> &unanswered() const { return m_unanswered; }
    int inFlight() const { return int(m_inFlight.size()); }
    const QStringList &problems() const { return m_problems; }
    const QJsonObject &welcome() const { return m_welcome; }

private:
    void drop()
    {
        if (m_socket)
            m_socket->disconnect(); // no more callbacks into this object
        m_socket.reset();
    }

    QJsonObject makeEvent(int batch, int index) const
    {
        const qint64 n = qint64(batch) * BatchEvents + index;
        // Every event is numbered n: metric data must be numbers only, so a metric carries n as
        // its step, the others as "uid".
        QJsonObject data;
        QString type;
        if (n == 0) {
            type = QStringLiteral("run_started");
            data.insert(QStringLiteral("name"), QStringLiteral("crash test"));
            data.insert(QStringLiteral("kind"), QStringLiteral("training"));
            data.insert(QStringLiteral("config"), QJsonObject{{QStringLiteral("seed"), 7}});
            data.insert(QStringLiteral("uid"), double(n));
        } else if (index % 10 == 9) {
            type = QStringLiteral("log");
            data.insert(QStringLiteral("level"), QStringLiteral("info"));
            data.insert(QStringLiteral("message"), QStringLiteral("event %1 — ünïcode ✓").arg(n));
            data.insert(QStringLiteral("uid"), double(n));
        } else {
            type = QStringLiteral("metric");
            data.insert(QStringLiteral("step"), double(n));
            data.insert(QStringLiteral("loss"), 1.0 / double(n + 3));
            data.insert(QStringLiteral("lr"), 3e-4 * (1.0 - double(n) / 1e7));
        }
        return Test::event(runId(), type, data);
    }

    void fill()
    {
        while (m_streaming && m_connected && m_inFlight.size() < InFlight) {
            Batch batch;
            const int number = m_nextBatch++;
            batch.id = QStringLiteral("batch-%1").arg(number);
            QJsonArray events;
            for (int i = 0; i < BatchEvents; ++i) {
                batch.events.append(makeEvent(number, i));
                events.append(batch.events.last());
            }
            m_inFlight.insert(batch.id, batch);
            m_socket->sendTextMessage(QString::fromUtf8(QJsonDocument(Test::publishOp(events, batch.id)).toJson(QJsonDocument::Compact)));
        }
    }

    void onText(const QString &text)
    {
        const QJsonObject message = QJsonDocument::fromJson(text.toUtf8()).object();
        const QString type = message.value(QLatin1String("type")).toString();
        if (type == QLatin1String("welcome")) {
            m_welcome = message;
            return;
        }
        const QString id = message.value(QLatin1String("id")).toString();
        if (type != QLatin1String("ack")) {
            m_problems.append(QStringLiteral("unexpected message: ") + text.left(300));
            m_inFlight.remove(id);
            return;
        }
        const auto it = m_inFlight.find(id);
        if (it == m_inFlight.end()) {
            m_problems.append(QStringLiteral("ack for an unknown id: ") + text.left(300));
            return;
        }
        const Batch batch = it.value();
        m_inFlight.erase(it);
        const QJsonArray seqs = message.value(QLatin1String("seq")).toArray();
        if (seqs.size() != batch.events.size()) {
            m_problems.append(QStringLiteral("ack %1 has %2 seqs for %3 events").arg(id).arg(seqs.size()).arg(batch.events.size()));
        } else {
            for (int i = 0; i < seqs.size(); ++i) {
                const qint64 seq = qint64(seqs.at(i).toDouble());
                if (seq <= m_floor || seq <= maxAcked())
                    m_problems.append(QStringLiteral("ack %1: seq %2 is not above %3 (handed out or stored before)")
                                          .arg(id).arg(seq).arg(qMax(m_floor, maxAcked())));
                m_acked.insert(seq, batch.events.at(i));
            }
        }
        fill();
    }

    std::unique_ptr<QWebSocket> m_socket;
    bool m_connected = false;
    bool m_streaming = false;
    int m_nextBatch = 0;
    qint64 m_floor = 0;
    QHash<QString, Batch> m_inFlight;
    QMap<qint64, QJsonObject> m_acked;
    QVector<Batch> m_unanswered;
    QStringList m_problems;
    QJsonObject m_welcome;
};

// The number n of an event this producer sent (see Producer::makeEvent).
qint64 eventNumber(const QJsonObject &envelopeOrEvent)
{
    const QJsonObject data = envelopeOrEvent.value(QLatin1String("data")).toObject();
    const QJsonValue uid = data.value(QLatin1String("uid"));
    return qint64((uid.isDouble() ? uid : data.value(QLatin1String("step"))).toDouble(-1));
}

QString compact(const QJsonObject &object)
{
    return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

} // namespace

class TestCrash : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void killedAtRandomLosesNothingAcked();
    void secondProcessOnTheDirIsRefused();

private:
    // Reads every stored event of the run (paging) and checks it against what was acknowledged.
    // Returns the highest stored seq through *maxStored.
    void verifyStored(RunwatchProcess &rw, const Producer &producer, int round, qint64 *maxStored);
    QNetworkAccessManager m_nam;
};

void TestCrash::initTestCase()
{
    QVERIFY2(!binary().isEmpty(), "set RUNWATCH_BINARY to the runwatch executable");
    const QFileInfo info(binary());
    QVERIFY2(info.isFile() && info.isExecutable(), qPrintable(binary()));
}

void TestCrash::verifyStored(RunwatchProcess &rw, const Producer &producer, int round, qint64 *maxStored)
{
    const QString where = QStringLiteral("after kill %1: ").arg(round + 1);
    QMap<qint64, QJsonObject> stored;
    QHash<qint64, int> uidCount;
    qint64 since = 0;
    int pages = 0;
    for (;;) {
        const HttpResult r = httpCall(m_nam, "GET", rw.http(QStringLiteral("/api/runs/%1/events?since=%2&limit=2000").arg(runId()).arg(since)));
        QVERIFY2(r.finished && r.status == 200, qPrintable(where + QStringLiteral("events page since %1: %2 %3").arg(since).arg(r.status).arg(QString::fromUtf8(r.body.left(300)))));
        const QJsonArray page = r.array();
        ++pages;
        qint64 last = since;
        for (const QJsonValue &value : page) {
            const QJsonObject envelope = value.toObject();
            const qint64 seq = qint64(envelope.value(QLatin1String("seq")).toDouble());
            QVERIFY2(seq > last, qPrintable(where + QStringLiteral("seq %1 after %2: not ascending").arg(seq).arg(last)));
            QCOMPARE(envelope.value(QLatin1String("run")).toString(), runId());
            last = seq;
            stored.insert(seq, envelope);
            ++uidCount[eventNumber(envelope)];
        }
        if (r.nextSince().isEmpty())
            break;
        QVERIFY2(!page.isEmpty(), "X-Runwatch-Next-Since on an empty page");
        QCOMPARE(r.nextSince().toLongLong(), last);
        since = last;
        QVERIFY2(pages < 10000, "paging does not end");
    }

    // Every acknowledged event is there, exactly as sent.
    int missing = 0;
    QStringList report;
    const QMap<qint64, QJsonObject> &acked = producer.acked();
    for (auto it = acked.cbegin(); it != acked.cend(); ++it) {
        const auto found = stored.constFind(it.key());
        if (found == stored.cend()) {
            if (++missing <= 5)
                report.append(QStringLiteral("seq %1 (%2) missing").arg(it.key()).arg(compact(it.value())));
            continue;
        }
        const QJsonObject &envelope = found.value();
        const QJsonObject &sent = it.value();
        if (envelope.value(QLatin1String("type")) != sent.value(QLatin1String("type"))
            || envelope.value(QLatin1String("data")) != sent.value(QLatin1String("data"))) {
            if (++missing <= 5)
                report.append(QStringLiteral("seq %1 stored as %2, sent as %3").arg(it.key()).arg(compact(envelope), compact(sent)));
        }
    }
    QVERIFY2(missing == 0, qPrintable(where + QStringLiteral("%1 of %2 acknowledged events lost or changed (%3 stored): %4")
                                                  .arg(missing).arg(acked.size()).arg(stored.size()).arg(report.join(QStringLiteral("; ")))));

    // Nothing is stored twice, and a publish that was never answered is there whole or not at all.
    for (auto it = uidCount.cbegin(); it != uidCount.cend(); ++it)
        QVERIFY2(it.value() == 1, qPrintable(where + QStringLiteral("event %1 stored %2 times").arg(it.key()).arg(it.value())));
    for (const Batch &batch : producer.unanswered()) {
        int present = 0;
        for (const QJsonObject &e : batch.events)
            present += uidCount.contains(eventNumber(e)) ? 1 : 0;
        QVERIFY2(present == 0 || present == batch.events.size(),
                 qPrintable(where + QStringLiteral("unanswered publish %1: %2 of its %3 events stored").arg(batch.id).arg(present).arg(batch.events.size())));
    }

    // Every metric point is there once, in seq order: those that had reached a block of the store
    // before the kill and those rebuilt from the events after it.
    QVector<qint64> expectedSteps;
    for (const QJsonObject &envelope : std::as_const(stored)) {
        if (envelope.value(QLatin1String("type")).toString() == QLatin1String("metric"))
            expectedSteps.append(qint64(envelope.value(QLatin1String("data")).toObject().value(QLatin1String("step")).toDouble()));
    }
    const HttpResult series = httpCall(m_nam, "GET", rw.http(QStringLiteral("/api/runs/%1/metrics/loss").arg(runId())));
    QVERIFY2(series.status == 200 || expectedSteps.isEmpty(), series.body.left(300).constData());
    if (!expectedSteps.isEmpty()) {
        QVector<qint64> steps;
        for (const QJsonValue &point : series.object().value(QLatin1String("points")).toArray()) {
            steps.append(qint64(point.toArray().at(0).toDouble()));
            const double loss = point.toArray().at(1).toDouble();
            QVERIFY2(qFuzzyCompare(loss, 1.0 / double(steps.last() + 3)), qPrintable(where + QStringLiteral("loss at step %1 is %2").arg(steps.last()).arg(loss)));
        }
        QVERIFY2(steps == expectedSteps, qPrintable(where + QStringLiteral("the loss series has %1 points, %2 metric events are stored")
                                                          .arg(steps.size()).arg(expectedSteps.size())));
    }

    // The run's state was rebuilt from all of it.
    const HttpResult summary = httpCall(m_nam, "GET", rw.http(QStringLiteral("/api/runs/") + runId()));
    QCOMPARE(summary.status, 200);
    const qint64 eventCount = qint64(summary.object().value(QLatin1String("event_count")).toDouble());
    QVERIFY2(eventCount >= acked.size(), qPrintable(where + QStringLiteral("event_count %1, but %2 events were acknowledged").arg(eventCount).arg(acked.size())));
    QCOMPARE(eventCount, qint64(stored.size()));
    QCOMPARE(summary.object().value(QLatin1String("name")).toString(), QStringLiteral("crash test"));
    QCOMPARE(summary.object().value(QLatin1String("last_seq")).toDouble(), double(stored.isEmpty() ? 0 : stored.lastKey()));

    *maxStored = stored.isEmpty() ? 0 : stored.lastKey();
    const HttpResult health = httpCall(m_nam, "GET", rw.http(QStringLiteral("/healthz")));
    QCOMPARE(health.status, 200);
    QVERIFY2(health.object().value(QLatin1String("last_seq")).toDouble() >= double(*maxStored), health.body.constData());
}

void TestCrash::killedAtRandomLosesNothingAcked()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QRandomGenerator rng(20260101);
    Producer producer;

    auto process = std::make_unique<RunwatchProcess>(serveArguments(dir.path()));
    QVERIFY(process->waitListening());
    producer.open(process->ws(QStringLiteral("/ws")));
    QVERIFY(producer.waitConnected());
    producer.setStreaming(true);

    qint64 maxStored = 0;
    for (int round = 0; round < Rounds; ++round) {
        const int ackedBefore = int(producer.acked().size());
        const int delay = int(rng.bounded(100, 801));
        QTest::qWait(delay); // fixed on purpose: the kill lands at a random point of the stream
        // Each round must have something acknowledged to lose.
        QTRY_VERIFY_WITH_TIMEOUT(producer.acked().size() > ackedBefore, Timeout);
        QVERIFY2(producer.problems().isEmpty(), qPrintable(producer.problems().join(QLatin1Char('\n'))));

        const qint64 pid = process->process().processId();
        QVERIFY(pid > 0);
        QVERIFY(::kill(pid_t(pid), SIGKILL) == 0);
        QVERIFY(process->waitFinished());
        QCOMPARE(process->process().exitStatus(), QProcess::CrashExit);
        QVERIFY2(producer.waitDisconnected(), "the producer's socket stayed open after the kill");
        const int inAir = int(producer.unanswered().size());
        qInfo("round %d: killed after %d ms with %d events acknowledged, %d publishes unanswered so far", round + 1, delay,
              int(producer.acked().size()), inAir);

        process = std::make_unique<RunwatchProcess>(serveArguments(dir.path()));
        QVERIFY2(process->waitListening(), process->err().constData());
        verifyStored(*process, producer, round, &maxStored);
        if (QTest::currentTestFailed())
            return;
        QVERIFY(maxStored >= producer.maxAcked());

        // The producer resumes; the new process' seqs go on above everything stored before.
        producer.setStreaming(false);
        producer.setFloor(maxStored);
        producer.open(process->ws(QStringLiteral("/ws")));
        QVERIFY(producer.waitConnected());
        QTRY_VERIFY_WITH_TIMEOUT(!producer.welcome().isEmpty(), Timeout);
        QVERIFY2(producer.welcome().value(QLatin1String("last_seq")).toDouble() >= double(maxStored), qPrintable(compact(producer.welcome())));
        if (round + 1 < Rounds)
            producer.setStreaming(true);
    }

    // After the last restart: a live subscriber sees the run go on.
    Test::WsProbe subscriber;
    subscriber.open(process->ws(QStringLiteral("/ws/runs/%1?replay=0").arg(runId())));
    QVERIFY(subscriber.waitConnected());
    QVERIFY(!subscriber.waitMessage(QStringLiteral("welcome")).isEmpty());
    const int ackedBefore = int(producer.acked().size());
    producer.setStreaming(true);
    QTRY_VERIFY_WITH_TIMEOUT(producer.acked().size() >= ackedBefore + 10 * BatchEvents, Timeout);
    producer.setStreaming(false);
    QTRY_VERIFY_WITH_TIMEOUT(producer.inFlight() == 0, Timeout);
    QVERIFY2(producer.problems().isEmpty(), qPrintable(producer.problems().join(QLatin1Char('\n'))));

    QVector<qint64> expected;
    for (auto it = producer.acked().lowerBound(maxStored + 1); it != producer.acked().cend(); ++it)
        expected.append(it.key());
    QVERIFY(expected.size() >= 10 * BatchEvents);
    QVERIFY2(subscriber.waitEvents(int(expected.size()), Timeout),
             qPrintable(QStringLiteral("the subscriber got %1 of %2 live events").arg(subscriber.events().size()).arg(expected.size())));
    QCOMPARE(subscriber.seqs(), expected);
    for (const QJsonObject &envelope : subscriber.events()) {
        const QJsonObject sent = producer.acked().value(qint64(envelope.value(QLatin1String("seq")).toDouble()));
        QCOMPARE(envelope.value(QLatin1String("data")), sent.value(QLatin1String("data")));
        QCOMPARE(envelope.value(QLatin1String("type")), sent.value(QLatin1String("type")));
    }
    QVERIFY(process->signal(SIGTERM));
    QVERIFY(process->waitFinished());
    QCOMPARE(process->process().exitCode(), 0);
}

void TestCrash::secondProcessOnTheDirIsRefused()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    RunwatchProcess first(serveArguments(dir.path()));
    QVERIFY(first.waitListening());
    const QByteArray body = QJsonDocument(Test::event(QStringLiteral("owner"), QStringLiteral("log"),
                                                      {{QStringLiteral("message"), QStringLiteral("first")}}))
                                .toJson(QJsonDocument::Compact);
    QCOMPARE(httpCall(m_nam, "POST", first.http(QStringLiteral("/api/events")), QByteArray(), body).status, 200);

    // --port 0: if the dir were not refused, the second would start; its port is never the reason.
    RunwatchProcess second(serveArguments(dir.path()));
    QVERIFY2(second.waitFinished(), "a second runwatch on a data dir in use kept running");
    QCOMPARE(second.process().exitStatus(), QProcess::NormalExit);
    QVERIFY2(second.process().exitCode() != 0, "exit code 0 for a data dir in use");
    QVERIFY2(!second.out().contains("listening"), second.out().constData());
    const QStringList lines = nonEmptyLines(second.err());
    QVERIFY2(lines.size() == 1, second.err().constData());
    const QString line = lines.first();
    QVERIFY2(line.startsWith(QLatin1String("runwatch:")), qPrintable(line));
    QVERIFY2(line.contains(QLatin1String("in use")), qPrintable(line));
    QVERIFY2(line.contains(dir.path()), qPrintable(line + QStringLiteral(" does not name ") + dir.path()));
    QVERIFY2(line.contains(QString::number(first.process().processId())),
             qPrintable(line + QStringLiteral(" does not name pid %1").arg(first.process().processId())));

    // The first one still owns and serves the dir.
    QCOMPARE(httpCall(m_nam, "POST", first.http(QStringLiteral("/api/events")), QByteArray(), body).status, 200);
    const HttpResult events = httpCall(m_nam, "GET", first.http(QStringLiteral("/api/runs/owner/events")));
    QCOMPARE(events.status, 200);
    QCOMPARE(events.array().size(), 2);

    // A clean stop hands the dir over.
    QVERIFY(first.signal(SIGTERM));
    QVERIFY(first.waitFinished());
    QCOMPARE(first.process().exitCode(), 0);
    RunwatchProcess third(serveArguments(dir.path()));
    QVERIFY2(third.waitListening(), third.err().constData());
    QCOMPARE(httpCall(m_nam, "GET", third.http(QStringLiteral("/api/runs/owner/events"))).array().size(), 2);
    QVERIFY(third.signal(SIGTERM));
    QVERIFY(third.waitFinished());
}

QTEST_MAIN(TestCrash)
#include "tst_crash.moc"
