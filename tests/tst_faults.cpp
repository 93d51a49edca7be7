// A data dir that fills up or turns read-only, with the real binary on a small private tmpfs: the
// server refuses publishes with STORE_FAILED naming the cause (no ack, nothing half stored, nothing
// sent to subscribers), keeps serving what it stored, and takes writes again once there is room,
// without a restart; a restart on the same dir finds every acknowledged event. A server started on
// a dir it cannot write to refuses to start, with one clear line and exit code 2.
//
// The tmpfs lives in a user + mount namespace (`unshare -rm`), so the filesystem is only visible to
// a shell inside it; the test drives that shell through its stdin (start, run, stop, fill, free, wipe, ro, rw)
// and reads the server's listening line and the shell's answers from its stdout.
// The binary is given in the environment variable RUNWATCH_BINARY (set by CTest).

#include "testsupport.h"

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace Runwatch;
using namespace Runwatch::Test;

namespace {

constexpr int Timeout = 15000;

// The shell inside the namespace. $1: the mount point, $2: the binary.
const char *const JailScript = R"SH(
dir=$1
bin=$2
mount -t tmpfs -o size=8m,mode=0755 tmpfs "$dir" || { echo "jail-failed mount"; exit 3; }
mkdir "$dir/data" || { echo "jail-failed mkdir"; exit 3; }
pid=
echo jail-ready
while read -r cmd; do
    rc=0
    case $cmd in
        start) "$bin" --headless --port 0 --data-dir "$dir/data" & pid=$! ;;
        run) timeout 30 "$bin" --headless --port 0 --data-dir "$dir/data"; rc=$? ;;
        stop) kill -TERM "$pid"; wait "$pid"; rc=$?; pid= ;;
        fill) dd if=/dev/zero of="$dir/fill" bs=4096 >/dev/null 2>&1; rc=$(df -k "$dir" | awk 'NR==2 {print $4}') ;;
        free) rm -f "$dir/fill"; rc=$? ;;
        wipe) rm -rf "$dir/data" && mkdir "$dir/data"; rc=$? ;;
        ro) mount -o remount,ro "$dir"; rc=$? ;;
        rw) mount -o remount,rw "$dir"; rc=$? ;;
        *) rc=99 ;;
    esac
    echo "done-$cmd $rc"
done
if [ -n "$pid" ]; then kill -TERM "$pid"; wait "$pid"; fi
)SH";

// The shell in its namespace, and the server it starts.
class Jail
{
public:
    ~Jail()
    {
        if (m_shell.state() == QProcess::NotRunning)
            return;
        m_shell.closeWriteChannel(); // the loop ends and stops the server
        if (!m_shell.waitForFinished(Timeout)) {
            m_shell.kill();
            m_shell.waitForFinished(5000);
        }
    }

    bool open()
    {
        if (!m_mountPoint.isValid())
            return false;
        m_shell.setProcessEnvironment(RunwatchProcess::cleanEnvironment());
        m_shell.start(QStringLiteral("unshare"), {QStringLiteral("-rm"), QStringLiteral("sh"), QStringLiteral("-c"),
                                                  QString::fromLatin1(JailScript), QStringLiteral("jail"),
                                                  m_mountPoint.path(), RunwatchProcess::binary()});
        return !waitLine(QStringLiteral("jail-ready")).isEmpty();
    }

    // Runs one command of the loop; its number (exit code, or free KiB for fill); -1000 on a timeout.
    int command(const QString &cmd, int timeoutMs = Timeout)
    {
        m_shell.write(cmd.toLatin1() + '\n');
        const QString line = waitLine(QStringLiteral("done-%1 ").arg(cmd), timeoutMs);
        if (line.isEmpty())
            return -1000;
        return line.section(QLatin1Char(' '), 1, 1).toInt();
    }

    // Starts the server in the background and waits for its listening line.
    bool startServer()
    {
        if (command(QStringLiteral("start")) != 0)
            return false;
        const QString line = waitLine(QStringLiteral("runwatch listening on "));
        static const QRegularExpression port(QStringLiteral(":(\\d+)$"));
        const QRegularExpressionMatch m = port.match(line);
        if (!m.hasMatch()) {
            qWarning("no listening line; stderr: %s", err().constData());
            return false;
        }
        m_port = m.captured(1).toUShort();
        return m_port != 0;
    }

    QUrl http(const QString &path) const { return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(path)); }
    QUrl ws(const QString &path) const { return QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(m_port).arg(path)); }
    QString dataDir() const { return QFileInfo(m_mountPoint.path() + QStringLiteral("/data")).absoluteFilePath(); }

    // The server's (and the shell's) standard error so far.
    QByteArray err()
    {
        m_err.append(m_shell.readAllStandardError());
        return m_err;
    }
    QStringList errLines(const QString &containing)
    {
        QStringList found;
        for (const QString &line : QString::fromUtf8(err()).split(QLatin1Char('\n'))) {
            if (line.contains(containing, Qt::CaseInsensitive))
                found.append(line);
        }
        return found;
    }
    bool running() const { return m_shell.state() == QProcess::Running; }

private:
    // The next stdout line (after those returned before) that starts with `prefix`.
    QString waitLine(const QString &prefix, int timeoutMs = Timeout)
    {
        QString found;
        (void)QTest::qWaitFor(
            [&] {
                m_out.append(m_shell.readAllStandardOutput());
                int newline;
                while ((newline = m_out.indexOf('\n')) >= 0) {
                    const QString line = QString::fromUtf8(m_out.left(newline));
                    m_out.remove(0, newline + 1);
                    if (line.startsWith(QLatin1String("jail-failed")))
                        qWarning("%s; stderr: %s", qPrintable(line), err().constData());
                    if (line.startsWith(prefix)) {
                        found = line;
                        return true;
                    }
                }
                return m_shell.state() == QProcess::NotRunning;
            },
            timeoutMs);
        return found;
    }

    QTemporaryDir m_mountPoint;
    QProcess m_shell;
    QByteArray m_out;
    QByteArray m_err;
    quint16 m_port = 0;
};

QJsonObject sample(const QString &run, int i)
{
    // About 1.5 KB each, so that a publish needs fresh pages in the WAL.
    return event(run, QStringLiteral("sample"),
                 QJsonObject{{QStringLiteral("i"), i}, {QStringLiteral("pad"), QString(1500, QLatin1Char('x'))}});
}

QByteArray json(const QJsonArray &array)
{
    return QJsonDocument(array).toJson(QJsonDocument::Compact);
}

QString message(const QJsonObject &error)
{
    return error.value(QLatin1String("message")).toString();
}

// What a producer was told: the data of every acked seq.
class Ledger
{
public:
    QMap<qint64, QJsonObject> acked;
    int next = 0;
};

// Publishes `count` events over WebSocket with an id; records them when acked. The answer.
QJsonObject publishWs(WsProbe &producer, const QString &run, int count, Ledger *ledger)
{
    QJsonArray events;
    for (int i = 0; i < count; ++i)
        events.append(sample(run, ledger->next++));
    const QString id = nextId();
    producer.send(publishOp(events, id));
    const QJsonObject answer = waitAnswer(producer, id, Timeout);
    if (answer.value(QLatin1String("type")).toString() == QLatin1String("ack")) {
        const QVector<qint64> seqs = seqList(answer.value(QLatin1String("seq")).toArray());
        for (int i = 0; i < seqs.size() && i < events.size(); ++i)
            ledger->acked.insert(seqs.at(i), events.at(i).toObject().value(QLatin1String("data")).toObject());
    }
    return answer;
}

// The same through POST /api/events.
HttpResult publishHttp(QNetworkAccessManager &nam, const QUrl &url, const QString &run, int count, Ledger *ledger)
{
    QJsonArray events;
    for (int i = 0; i < count; ++i)
        events.append(sample(run, ledger->next++));
    const HttpResult result = httpCall(nam, QByteArrayLiteral("POST"), url, QByteArray(), json(events));
    if (result.status == 200) {
        const QVector<qint64> seqs =
            seqList(QJsonDocument::fromJson(result.body).object().value(QLatin1String("seq")).toArray());
        for (int i = 0; i < seqs.size() && i < events.size(); ++i)
            ledger->acked.insert(seqs.at(i), events.at(i).toObject().value(QLatin1String("data")).toObject());
    }
    return result;
}

// A WebSocket client, connected and welcomed; nullptr when that failed.
std::unique_ptr<WsProbe> connectedProbe(const QUrl &url)
{
    auto probe = openProbe(url);
    if (!probe->waitConnected(Timeout) || probe->waitMessage(QStringLiteral("welcome"), Timeout).isEmpty())
        return nullptr;
    return probe;
}

// seq -> data of envelopes.
QMap<qint64, QJsonObject> byseq(const QVector<QJsonObject> &envelopes)
{
    QMap<qint64, QJsonObject> out;
    for (const QJsonObject &e : envelopes)
        out.insert(qint64(e.value(QLatin1String("seq")).toDouble()), e.value(QLatin1String("data")).toObject());
    return out;
}

} // namespace

// Runs a helper that uses the QTest macros, and ends the test function when it failed.
#define CHECKED(call)                                                                                                   \
    do {                                                                                                               \
        call;                                                                                                          \
        if (QTest::currentTestFailed())                                                                                \
            return;                                                                                                    \
    } while (false)

class TestFaults : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void diskFull();
    void readOnly();

private:
    // Everything acked is there: the REST history, a WebSocket replay from 0, the run's count.
    void checkHistory(Jail &jail, const QString &run, const Ledger &ledger);
    // Publishes fail with STORE_FAILED naming `cause`, over both ways in; nothing is acked.
    void checkRefused(Jail &jail, WsProbe &producer, const QString &run, Ledger *ledger, const QString &cause);
    QNetworkAccessManager m_nam;
};

void TestFaults::initTestCase()
{
    const QString binary = RunwatchProcess::binary();
    if (binary.isEmpty() || !QFileInfo(binary).isExecutable())
        QFAIL("RUNWATCH_BINARY does not name the runwatch binary (CTest sets it)");
    QProcess probe;
    probe.start(QStringLiteral("unshare"), {QStringLiteral("-rm"), QStringLiteral("sh"), QStringLiteral("-c"),
                                            QStringLiteral("mount -t tmpfs -o size=1m tmpfs /tmp && echo ok")});
    const bool started = probe.waitForStarted(Timeout);
    probe.waitForFinished(Timeout);
    if (!started || probe.exitCode() != 0 || !probe.readAllStandardOutput().startsWith("ok"))
        QSKIP(qPrintable(QStringLiteral("unshare -rm with a private tmpfs is not permitted here: %1")
                             .arg(QString::fromUtf8(probe.readAllStandardError()).trimmed())));
}

void TestFaults::checkHistory(Jail &jail, const QString &run, const Ledger &ledger)
{
    const HttpResult events = httpCall(m_nam, QByteArrayLiteral("GET"), jail.http(QStringLiteral("/api/runs/%1/events?since=0").arg(run)));
    QCOMPARE(events.status, 200);
    QVector<QJsonObject> stored;
    for (const QJsonValue &e : QJsonDocument::fromJson(events.body).array())
        stored.append(e.toObject());
    const QMap<qint64, QJsonObject> rest = byseq(stored);
    QCOMPARE(rest.keys(), ledger.acked.keys());
    QVERIFY2(rest == ledger.acked, "the stored data differs from what was acked");

    auto replay = connectedProbe(jail.ws(QStringLiteral("/ws")));
    QVERIFY(replay);
    const QString id = nextId();
    replay->send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), run},
                             {QStringLiteral("since"), 0}, {QStringLiteral("id"), id}});
    QCOMPARE(waitAnswer(*replay, id).value(QLatin1String("type")).toString(), QStringLiteral("subscribed"));
    QCOMPARE(byseq(replay->events()).keys(), ledger.acked.keys());
    QVERIFY2(byseq(replay->events()) == ledger.acked, "the replayed data differs from what was acked");

    const HttpResult summary = httpCall(m_nam, QByteArrayLiteral("GET"), jail.http(QStringLiteral("/api/runs/%1").arg(run)));
    QCOMPARE(summary.status, 200);
    QCOMPARE(QJsonDocument::fromJson(summary.body).object().value(QLatin1String("event_count")).toInt(), ledger.acked.size());
}

void TestFaults::checkRefused(Jail &jail, WsProbe &producer, const QString &run, Ledger *ledger, const QString &cause)
{
    const int ackedBefore = ledger->acked.size();
    const qsizetype acksBefore = ofType(producer, QStringLiteral("ack")).size();
    for (int attempt = 0; attempt < 3; ++attempt) {
        const QJsonObject answer = publishWs(producer, run, 4, ledger);
        QCOMPARE(answer.value(QLatin1String("type")).toString(), QStringLiteral("error"));
        QCOMPARE(answer.value(QLatin1String("code")).toString(), QStringLiteral("STORE_FAILED"));
        QVERIFY2(message(answer).contains(cause, Qt::CaseInsensitive), qPrintable(message(answer)));
        QVERIFY2(message(answer).contains(jail.dataDir()), qPrintable(message(answer)));

        const HttpResult post = publishHttp(m_nam, jail.http(QStringLiteral("/api/events")), run, 3, ledger);
        QCOMPARE(post.status, 503);
        QCOMPARE(post.errorCode(), QStringLiteral("STORE_FAILED"));
        const QString text = message(QJsonDocument::fromJson(post.body).object().value(QLatin1String("error")).toObject());
        QVERIFY2(text.contains(cause, Qt::CaseInsensitive), qPrintable(text));
    }
    // No ack came later either.
    QVERIFY(sync(producer));
    QCOMPARE(ofType(producer, QStringLiteral("ack")).size(), acksBefore);
    QCOMPARE(ledger->acked.size(), ackedBefore);
}

void TestFaults::diskFull()
{
    Jail jail;
    QVERIFY(jail.open());
    QVERIFY(jail.startServer());
    const QString run = QStringLiteral("full");
    Ledger ledger;

    auto live = connectedProbe(jail.ws(QStringLiteral("/ws/runs/%1").arg(run)));
    auto producer = connectedProbe(jail.ws(QStringLiteral("/ws")));
    QVERIFY(live && producer);
    for (int i = 0; i < 4; ++i)
        QCOMPARE(publishWs(*producer, run, 5, &ledger).value(QLatin1String("type")).toString(), QStringLiteral("ack"));
    QCOMPARE(publishHttp(m_nam, jail.http(QStringLiteral("/api/events")), run, 5, &ledger).status, 200);
    const int ackedFirst = ledger.acked.size();
    QCOMPARE(ackedFirst, 25);
    QVERIFY(live->waitEvents(ackedFirst));
    const int acksFirst = int(ofType(*producer, QStringLiteral("ack")).size());

    // The disk fills up: every page free is taken, the WAL cannot grow.
    QCOMPARE(jail.command(QStringLiteral("fill")), 0);
    CHECKED(checkRefused(jail, *producer, run, &ledger, QStringLiteral("disk full")));
    QCOMPARE(int(ofType(*producer, QStringLiteral("ack")).size()), acksFirst);
    QCOMPARE(ledger.acked.size(), ackedFirst);

    // Reads go on, and show exactly what was acked.
    CHECKED(checkHistory(jail, run, ledger));
    const HttpResult runs = httpCall(m_nam, QByteArrayLiteral("GET"), jail.http(QStringLiteral("/api/runs")));
    QCOMPARE(runs.status, 200);
    QCOMPARE(QJsonDocument::fromJson(runs.body).array().size(), 1);
    QCOMPARE(httpCall(m_nam, QByteArrayLiteral("GET"), jail.http(QStringLiteral("/healthz"))).status, 200);
    HttpResult metrics = httpCall(m_nam, QByteArrayLiteral("GET"), jail.http(QStringLiteral("/metrics")));
    QCOMPARE(metrics.status, 200);
    QCOMPARE(Test::metricValue(metrics.body, "runwatch_store_writable"), 0);
    QVERIFY2(Test::metricValue(metrics.body, "runwatch_store_write_errors_total") >= 6, metrics.body.constData());
    QCOMPARE(Test::metricValue(metrics.body, "runwatch_stored_events"), qint64(ackedFirst));
    // Deleting a run needs the disk too: refused, and the run stays (it must not vanish now and
    // come back at the next start).
    const HttpResult deleted = httpCall(m_nam, QByteArrayLiteral("DELETE"), jail.http(QStringLiteral("/api/runs/%1").arg(run)));
    QCOMPARE(deleted.status, 503);
    QCOMPARE(deleted.errorCode(), QStringLiteral("STORE_FAILED"));
    QCOMPARE(httpCall(m_nam, QByteArrayLiteral("GET"), jail.http(QStringLiteral("/api/runs/%1").arg(run))).status, 200);
    // Live subscribers got nothing that was not stored.
    QVERIFY(sync(*live));
    QCOMPARE(byseq(live->events()), ledger.acked);
    // One line when writes started failing, not one per publish.
    QCOMPARE(jail.errLines(QStringLiteral("publishes are refused")).size(), 1);
    QVERIFY2(jail.errLines(QStringLiteral("publishes are refused")).first().contains(QLatin1String("disk full")), jail.err().constData());

    // Room again: the next publishes are stored, without a restart, seqs going on.
    QCOMPARE(jail.command(QStringLiteral("free")), 0);
    const qint64 highest = ledger.acked.lastKey();
    QCOMPARE(publishWs(*producer, run, 5, &ledger).value(QLatin1String("type")).toString(), QStringLiteral("ack"));
    QCOMPARE(publishHttp(m_nam, jail.http(QStringLiteral("/api/events")), run, 5, &ledger).status, 200);
    QCOMPARE(ledger.acked.size(), ackedFirst + 10);
    QVERIFY(ledger.acked.firstKey() > 0 && std::next(ledger.acked.find(highest)).key() > highest);
    QVERIFY(live->waitEvents(ledger.acked.size()));
    QVERIFY(sync(*live));
    QCOMPARE(byseq(live->events()), ledger.acked);
    CHECKED(checkHistory(jail, run, ledger));
    metrics = httpCall(m_nam, QByteArrayLiteral("GET"), jail.http(QStringLiteral("/metrics")));
    QCOMPARE(Test::metricValue(metrics.body, "runwatch_store_writable"), 1);
    QCOMPARE(jail.errLines(QStringLiteral("storing events again")).size(), 1);
    QCOMPARE(jail.errLines(QStringLiteral("publishes are refused")).size(), 1);

    // Full again at stop: the snapshot cannot be written; that must not damage anything.
    QCOMPARE(jail.command(QStringLiteral("fill")), 0);
    QCOMPARE(publishWs(*producer, run, 2, &ledger).value(QLatin1String("code")).toString(), QStringLiteral("STORE_FAILED"));
    live.reset();
    producer.reset();
    QCOMPARE(jail.command(QStringLiteral("stop")), 0);

    // Started again on the still full dir: its history is served, publishes are refused the same way.
    QVERIFY(jail.startServer());
    CHECKED(checkHistory(jail, run, ledger));
    producer = connectedProbe(jail.ws(QStringLiteral("/ws")));
    QVERIFY(producer);
    CHECKED(checkRefused(jail, *producer, run, &ledger, QStringLiteral("disk full")));
    QCOMPARE(jail.errLines(QStringLiteral("publishes are refused")).size(), 3); // first fill, fill at stop, this start

    // Room again: stored without a restart, and a restart finds everything acked; seqs go on.
    QCOMPARE(jail.command(QStringLiteral("free")), 0);
    qint64 before = ledger.acked.lastKey();
    QCOMPARE(publishWs(*producer, run, 3, &ledger).value(QLatin1String("type")).toString(), QStringLiteral("ack"));
    QVERIFY(ledger.acked.lastKey() > before);
    producer.reset();
    QCOMPARE(jail.command(QStringLiteral("stop")), 0);
    QVERIFY(jail.startServer());
    CHECKED(checkHistory(jail, run, ledger));
    producer = connectedProbe(jail.ws(QStringLiteral("/ws")));
    QVERIFY(producer);
    before = ledger.acked.lastKey();
    QCOMPARE(publishWs(*producer, run, 3, &ledger).value(QLatin1String("type")).toString(), QStringLiteral("ack"));
    QVERIFY(ledger.acked.lastKey() > before);
    CHECKED(checkHistory(jail, run, ledger));
    producer.reset();
    QCOMPARE(jail.command(QStringLiteral("stop")), 0);

    // A new data dir on a full disk cannot even hold the database: one clear line and exit code 2.
    QCOMPARE(jail.command(QStringLiteral("wipe")), 0);
    QCOMPARE(jail.command(QStringLiteral("fill")), 0);
    const int linesBefore = int(jail.errLines(QStringLiteral("runwatch: ")).size());
    QCOMPARE(jail.command(QStringLiteral("run"), 40000), 2);
    const QStringList lines = jail.errLines(QStringLiteral("runwatch: ")).mid(linesBefore);
    QVERIFY2(lines.size() == 1, jail.err().constData());
    QVERIFY2(lines.first().contains(QLatin1String("disk full"), Qt::CaseInsensitive), qPrintable(lines.first()));
    QVERIFY2(lines.first().contains(jail.dataDir()), qPrintable(lines.first()));
}

void TestFaults::readOnly()
{
    Jail jail;
    QVERIFY(jail.open());
    QVERIFY(jail.startServer());
    const QString run = QStringLiteral("ro");
    Ledger ledger;

    auto live = connectedProbe(jail.ws(QStringLiteral("/ws/runs/%1").arg(run)));
    auto producer = connectedProbe(jail.ws(QStringLiteral("/ws")));
    QVERIFY(live && producer);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(publishWs(*producer, run, 5, &ledger).value(QLatin1String("type")).toString(), QStringLiteral("ack"));
    QCOMPARE(publishHttp(m_nam, jail.http(QStringLiteral("/api/events")), run, 5, &ledger).status, 200);

    // Linux refuses to remount a filesystem read-only while files on it are open for writing, and
    // the server keeps its database open: while it runs, the dir cannot turn read-only under it.
    if (jail.command(QStringLiteral("ro")) == 0) {
        // Should a kernel allow it after all: refused with the cause, reads go on, and back.
        CHECKED(checkRefused(jail, *producer, run, &ledger, QStringLiteral("read-only")));
        CHECKED(checkHistory(jail, run, ledger));
        QCOMPARE(httpCall(m_nam, QByteArrayLiteral("GET"), jail.http(QStringLiteral("/healthz"))).status, 200);
        QCOMPARE(jail.command(QStringLiteral("rw")), 0);
    } else {
        QVERIFY2(jail.errLines(QStringLiteral("busy")).size() == 1, jail.err().constData());
    }
    QCOMPARE(publishWs(*producer, run, 5, &ledger).value(QLatin1String("type")).toString(), QStringLiteral("ack"));
    QVERIFY(live->waitEvents(ledger.acked.size()));
    QVERIFY(sync(*live));
    QCOMPARE(byseq(live->events()), ledger.acked);
    CHECKED(checkHistory(jail, run, ledger));
    live.reset();
    producer.reset();
    QCOMPARE(jail.command(QStringLiteral("stop")), 0);

    // Stopped, the dir can turn read-only; a start on it is refused with one clear line and exit 2.
    QCOMPARE(jail.command(QStringLiteral("ro")), 0);
    const int linesBefore = int(jail.errLines(QStringLiteral("runwatch: ")).size());
    QCOMPARE(jail.command(QStringLiteral("run"), 40000), 2);
    const QStringList lines = jail.errLines(QStringLiteral("runwatch: ")).mid(linesBefore);
    QVERIFY2(lines.size() == 1, jail.err().constData());
    QVERIFY2(lines.first().contains(QLatin1String("read-only"), Qt::CaseInsensitive), qPrintable(lines.first()));
    QVERIFY2(lines.first().contains(jail.dataDir()), qPrintable(lines.first()));

    // Writable again: everything acked is there and publishing goes on.
    QCOMPARE(jail.command(QStringLiteral("rw")), 0);
    QVERIFY(jail.startServer());
    CHECKED(checkHistory(jail, run, ledger));
    producer = connectedProbe(jail.ws(QStringLiteral("/ws")));
    QVERIFY(producer);
    const qint64 before = ledger.acked.lastKey();
    QCOMPARE(publishWs(*producer, run, 3, &ledger).value(QLatin1String("type")).toString(), QStringLiteral("ack"));
    QVERIFY(ledger.acked.lastKey() > before);
    CHECKED(checkHistory(jail, run, ledger));
    QCOMPARE(jail.command(QStringLiteral("stop")), 0);
}

QTEST_MAIN(TestFaults)
#include "tst_faults.moc"
