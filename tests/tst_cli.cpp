// The runwatch executable as scripts use it (protocol.md, "One port, two protocols" and "Auth and
// roles"): started through QProcess, found through its one stdout line, stopped with signals.
// The binary is given in the environment variable RUNWATCH_BINARY (set by CTest).

#include "testsupport.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <memory>

#include <signal.h>
#include <sys/types.h>

using namespace Runwatch;
using Test::HttpResult;
using Test::httpCall;
using Test::RunwatchProcess;

namespace {

constexpr int Timeout = 10000;

QString binary()
{
    return qEnvironmentVariable("RUNWATCH_BINARY");
}

QString text(const QJsonObject &object, const char *key)
{
    return object.value(QLatin1String(key)).toString();
}

// ---------------------------------------------------------------------------------------------
// HTTP

QByteArray eventsBody(const QString &run, int count)
{
    QJsonArray array;
    for (int i = 0; i < count; ++i)
        array.append(Test::event(run, QStringLiteral("metric"), {{QStringLiteral("step"), i}, {QStringLiteral("loss"), 1.0 + i}}));
    return QJsonDocument(array).toJson(QJsonDocument::Compact);
}

QVector<qint64> seqsOf(const HttpResult &reply)
{
    QVector<qint64> out;
    for (const QJsonValue &v : reply.object().value(QLatin1String("seq")).toArray())
        out.append(qint64(v.toDouble()));
    return out;
}

// ---------------------------------------------------------------------------------------------
// The process



QStringList nonEmptyLines(const QByteArray &bytes)
{
    QStringList lines;
    for (const QString &line : QString::fromUtf8(bytes).split(QLatin1Char('\n'))) {
        if (!line.trimmed().isEmpty())
            lines.append(line);
    }
    return lines;
}

// The token the server generated: on a line of its own in stderr (or after "token=").
QString generatedToken(const QByteArray &err)
{
    static const QRegularExpression own(QStringLiteral("(?m)^\\s+([A-Za-z0-9_\\-.~]{16,})\\s*$"));
    QRegularExpressionMatch m = own.match(QString::fromUtf8(err));
    if (m.hasMatch())
        return m.captured(1);
    static const QRegularExpression query(QStringLiteral("token=([A-Za-z0-9_\\-.~]{16,})"));
    m = query.match(QString::fromUtf8(err));
    return m.hasMatch() ? m.captured(1) : QString();
}

} // namespace

class TestCli : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void listensAndServes();
    void signalsShutDownCleanly_data();
    void signalsShutDownCleanly();
    void helpAndVersion_data();
    void helpAndVersion();
    void versionMatchesHealthz();
    void badInvocation_data();
    void badInvocation();
    void nonLoopbackBindGeneratesToken();
    void tokenFromEnvironment_data();
    void tokenFromEnvironment();
    void seqContinuesAcrossRestart_data();
    void seqContinuesAcrossRestart();
    void limitFlagsApply();
    void misspeltFlagBeforeDisplayCheck_data();
    void misspeltFlagBeforeDisplayCheck();
    void maxStepsPerRunApplies();
    void tokensFromFilesAndEnvironment_data();
    void tokensFromFilesAndEnvironment();
    void demoKeepsBoundedRuns();

private:
    QNetworkAccessManager m_nam;
};

void TestCli::initTestCase()
{
    QVERIFY2(!binary().isEmpty(), "set RUNWATCH_BINARY to the runwatch executable");
    const QFileInfo info(binary());
    QVERIFY2(info.isFile() && info.isExecutable(), qPrintable(binary()));
}

void TestCli::listensAndServes()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    RunwatchProcess rw({QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"),
                 QStringLiteral("--data-dir"), dir.path()});
    QVERIFY(rw.waitListening());
    QCOMPARE(rw.host(), QStringLiteral("127.0.0.1"));
    QVERIFY(rw.port() > 0);
    QCOMPARE(rw.out(), QByteArray("runwatch listening on http://127.0.0.1:" + QByteArray::number(rw.port()) + '\n'));

    // It serves at that port: health, publish, read back.
    HttpResult r = httpCall(m_nam, QByteArrayLiteral("GET"), rw.http(QStringLiteral("/healthz")));
    QVERIFY(r.finished);
    QCOMPARE(r.status, 200);
    QCOMPARE(text(r.object(), "status"), QStringLiteral("ok"));
    r = httpCall(m_nam, QByteArrayLiteral("POST"), rw.http(QStringLiteral("/api/events")), QByteArray(), eventsBody(QStringLiteral("cli"), 3));
    QCOMPARE(r.status, 200);
    QCOMPARE(seqsOf(r).size(), 3);
    r = httpCall(m_nam, QByteArrayLiteral("GET"), rw.http(QStringLiteral("/api/runs/cli/events")));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.array().size(), 3);
    Test::WsProbe probe;
    probe.open(rw.ws(QStringLiteral("/ws/runs/cli")));
    QVERIFY(probe.waitConnected());
    QVERIFY(probe.waitEvents(3));

    // Still exactly the one line on stdout, also after a clean stop.
    QVERIFY(rw.signal(SIGTERM));
    QVERIFY(rw.waitFinished());
    QCOMPARE(rw.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(rw.process().exitCode(), 0);
    QCOMPARE(nonEmptyLines(rw.out()).size(), 1);
    QVERIFY(rw.out().endsWith('\n'));
}

void TestCli::signalsShutDownCleanly_data()
{
    QTest::addColumn<int>("sig");
    QTest::newRow("SIGTERM") << int(SIGTERM);
    QTest::newRow("SIGINT") << int(SIGINT);
}

void TestCli::signalsShutDownCleanly()
{
    QFETCH(int, sig);
    QTemporaryDir dir;
    RunwatchProcess rw({QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"),
                 QStringLiteral("--data-dir"), dir.path()});
    QVERIFY(rw.waitListening());

    Test::WsProbe general, runSub, lifecycle;
    general.open(rw.ws(QStringLiteral("/ws")));
    runSub.open(rw.ws(QStringLiteral("/ws/runs/sig")));
    lifecycle.open(rw.ws(QStringLiteral("/ws/runs")));
    for (Test::WsProbe *probe : {&general, &runSub, &lifecycle}) {
        QVERIFY(probe->waitConnected());
        QVERIFY(!probe->waitMessage(QStringLiteral("welcome")).isEmpty());
    }
    QCOMPARE(httpCall(m_nam, QByteArrayLiteral("POST"), rw.http(QStringLiteral("/api/events")), QByteArray(), eventsBody(QStringLiteral("sig"), 2)).status, 200);
    QVERIFY(runSub.waitEvents(2));

    QVERIFY(rw.signal(sig));
    for (Test::WsProbe *probe : {&general, &runSub, &lifecycle}) {
        QVERIFY2(probe->waitClosed(Timeout), "a WebSocket stayed open after the signal");
        QCOMPARE(probe->closeCode(), 1001);
    }
    QVERIFY2(rw.waitFinished(), "the process did not exit after the signal");
    QCOMPARE(rw.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(rw.process().exitCode(), 0);
    QCOMPARE(nonEmptyLines(rw.out()).size(), 1);

    // The port is free again.
    QTcpServer again;
    QVERIFY2(again.listen(QHostAddress(QHostAddress::LocalHost), rw.port()), qPrintable(again.errorString()));
}

void TestCli::helpAndVersion_data()
{
    QTest::addColumn<QString>("flag");
    QTest::addColumn<QStringList>("mentions");
    const QStringList helpMentions{QStringLiteral("--port"), QStringLiteral("--bind"), QStringLiteral("--data-dir"),
                                   QStringLiteral("--token"), QStringLiteral("--headless"), QStringLiteral("--max-steps-per-run"),
                                   QStringLiteral("--token-file"), QStringLiteral("--viewer-token-file"),
                                   QStringLiteral("RUNWATCH_VIEWER_TOKEN")};
    QTest::newRow("--help") << QStringLiteral("--help") << helpMentions;
    QTest::newRow("-h") << QStringLiteral("-h") << helpMentions;
    QTest::newRow("--version") << QStringLiteral("--version") << QStringList{QStringLiteral("runwatch")};
}

void TestCli::helpAndVersion()
{
    QFETCH(QString, flag);
    QFETCH(QStringList, mentions);
    QTemporaryDir dir;
    // Whatever else is on the line, --help and --version answer and exit without serving.
    RunwatchProcess rw({flag, QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data-dir"), dir.path()});
    QVERIFY(rw.waitFinished());
    QCOMPARE(rw.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(rw.process().exitCode(), 0);
    const QString out = QString::fromUtf8(rw.out());
    QVERIFY2(!out.contains(QLatin1String("listening on")), qPrintable(out));
    for (const QString &mention : std::as_const(mentions))
        QVERIFY2(out.contains(mention), qPrintable(mention + QStringLiteral(" not in: ") + out));
    QVERIFY2(!rw.err().contains("runwatch:"), rw.err().constData());
    if (flag == QLatin1String("--version")) {
        static const QRegularExpression re(QStringLiteral("^runwatch \\d+\\.\\d+\\.\\d+\\S*\\n$"));
        QVERIFY2(re.match(out).hasMatch(), qPrintable(out));
    }
}

void TestCli::versionMatchesHealthz()
{
    RunwatchProcess version({QStringLiteral("--version")});
    QVERIFY(version.waitFinished());
    QCOMPARE(version.process().exitCode(), 0);
    const QString printed = QString::fromUtf8(version.out()).trimmed().section(QLatin1Char(' '), 1);
    QVERIFY(!printed.isEmpty());

    QTemporaryDir dir;
    RunwatchProcess rw({QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"),
                 QStringLiteral("--data-dir"), dir.path()});
    QVERIFY(rw.waitListening());
    const HttpResult r = httpCall(m_nam, QByteArrayLiteral("GET"), rw.http(QStringLiteral("/healthz")));
    QCOMPARE(r.status, 200);
    QCOMPARE(text(r.object(), "version"), printed);
}

void TestCli::badInvocation_data()
{
    // DATA is a fresh temporary dir, FILE a regular file in it, TAKEN a port another socket holds.
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("mention");
    const QString h = QStringLiteral("--headless");
    const QString p = QStringLiteral("--port");
    const QString d = QStringLiteral("--data-dir");
    QTest::newRow("unknown flag") << QStringList{h, QStringLiteral("--nope"), p, QStringLiteral("0"), d, QStringLiteral("DATA")} << QStringLiteral("nope");
    QTest::newRow("port 70000") << QStringList{h, p, QStringLiteral("70000"), d, QStringLiteral("DATA")} << QStringLiteral("70000");
    QTest::newRow("port abc") << QStringList{h, p, QStringLiteral("abc"), d, QStringLiteral("DATA")} << QStringLiteral("abc");
    QTest::newRow("port -1") << QStringList{h, p, QStringLiteral("-1"), d, QStringLiteral("DATA")} << QStringLiteral("-1");
    QTest::newRow("port without value") << QStringList{h, d, QStringLiteral("DATA"), p} << QStringLiteral("port");
    QTest::newRow("port taken") << QStringList{h, p, QStringLiteral("TAKEN"), d, QStringLiteral("DATA")} << QStringLiteral("TAKEN");
    QTest::newRow("data dir under a file") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("FILE/sub")} << QStringLiteral("FILE/sub");
    QTest::newRow("data dir is a file") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("FILE")} << QStringLiteral("FILE");
    QTest::newRow("bind not an address") << QStringList{h, QStringLiteral("--bind"), QStringLiteral("nowhere"), p, QStringLiteral("0"), d, QStringLiteral("DATA")} << QStringLiteral("nowhere");
    QTest::newRow("events/s not a number") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--max-events-per-second"), QStringLiteral("fast")} << QStringLiteral("--max-events-per-second");
    QTest::newRow("bytes/s negative") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--max-bytes-per-second"), QStringLiteral("-5")} << QStringLiteral("--max-bytes-per-second");
    QTest::newRow("max runs 0") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--max-runs"), QStringLiteral("0")} << QStringLiteral("--max-runs");
    QTest::newRow("max metrics per run 0") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--max-metrics-per-run"), QStringLiteral("0")} << QStringLiteral("--max-metrics-per-run");
    QTest::newRow("max string bytes empty") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--max-string-bytes"), QString()} << QStringLiteral("--max-string-bytes");
    QTest::newRow("max subscriptions 0") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--max-subscriptions"), QStringLiteral("0")} << QStringLiteral("--max-subscriptions");
    QTest::newRow("max events per publish x") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--max-events-per-publish"), QStringLiteral("x")} << QStringLiteral("--max-events-per-publish");
    QTest::newRow("max steps per run 0") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--max-steps-per-run"), QStringLiteral("0")} << QStringLiteral("--max-steps-per-run");
    QTest::newRow("token file missing") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--token-file"), QStringLiteral("DATA-none")} << QStringLiteral("--token-file");
    QTest::newRow("token file empty") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--token-file"), QStringLiteral("EMPTY")} << QStringLiteral("empty");
    QTest::newRow("viewer token file missing") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--token"), QStringLiteral("admin-secret"), QStringLiteral("--viewer-token-file"), QStringLiteral("DATA-none")} << QStringLiteral("--viewer-token-file");
    QTest::newRow("viewer token file blank") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("--token"), QStringLiteral("admin-secret"), QStringLiteral("--viewer-token-file"), QStringLiteral("BLANK")} << QStringLiteral("--viewer-token-file");
    QTest::newRow("stray argument") << QStringList{h, p, QStringLiteral("0"), d, QStringLiteral("DATA"), QStringLiteral("extra")} << QStringLiteral("extra");
}

void TestCli::badInvocation()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, mention);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString file = dir.filePath(QStringLiteral("plain-file"));
    {
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("not a directory\n");
    }
    const QString empty = dir.filePath(QStringLiteral("empty-file"));
    const QString blank = dir.filePath(QStringLiteral("blank-file"));
    {
        QFile e(empty), b(blank);
        QVERIFY(e.open(QIODevice::WriteOnly));
        QVERIFY(b.open(QIODevice::WriteOnly));
        b.write("   \nsecond-line-is-not-the-token\n");
    }
    QTcpServer holder;
    QVERIFY(holder.listen(QHostAddress(QHostAddress::LocalHost), 0));
    const QString taken = QString::number(holder.serverPort());
    auto fill = [&](QString s) {
        s.replace(QLatin1String("EMPTY"), empty);
        s.replace(QLatin1String("BLANK"), blank);
        s.replace(QLatin1String("DATA"), dir.filePath(QStringLiteral("data")));
        s.replace(QLatin1String("FILE"), file);
        s.replace(QLatin1String("TAKEN"), taken);
        return s;
    };
    for (QString &argument : arguments)
        argument = fill(argument);
    mention = fill(mention);

    RunwatchProcess rw(arguments);
    QVERIFY2(rw.waitFinished(), "a bad invocation did not end the process");
    QCOMPARE(rw.process().exitStatus(), QProcess::NormalExit);
    QVERIFY2(rw.process().exitCode() != 0, "exit code 0 for a bad invocation");
    QVERIFY2(rw.out().isEmpty(), rw.out().constData());
    const QStringList lines = nonEmptyLines(rw.err());
    QVERIFY2(lines.size() == 1, rw.err().constData());
    QVERIFY2(lines.first().startsWith(QLatin1String("runwatch: ")), rw.err().constData());
    QVERIFY2(lines.first().contains(mention), qPrintable(lines.first() + QStringLiteral(" does not name ") + mention));
    // The occupied port is still the other socket's.
    QVERIFY(holder.isListening());
}

void TestCli::nonLoopbackBindGeneratesToken()
{
    QTemporaryDir dir;
    const QStringList arguments{QStringLiteral("--headless"), QStringLiteral("--bind"), QStringLiteral("0.0.0.0"),
                                QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data-dir"), dir.path()};
    RunwatchProcess rw(arguments);
    if (!rw.waitListening()) {
        if (rw.waitFinished(1000) && rw.err().contains("cannot listen"))
            QSKIP("binding 0.0.0.0 is not possible here");
        QFAIL("no listening line for --bind 0.0.0.0");
    }
    QCOMPARE(nonEmptyLines(rw.out()).size(), 1);
    QString token;
    QTRY_VERIFY_WITH_TIMEOUT(!(token = generatedToken(rw.err())).isEmpty(), Timeout);
    QVERIFY2(token.size() >= 16, qPrintable(token));
    QVERIFY2(!rw.out().contains(token.toUtf8()), "the token belongs on stderr, not on the stdout line scripts parse");

    // Open: health. Closed without the token; open with it, as header or query.
    QCOMPARE(httpCall(m_nam, QByteArrayLiteral("GET"), rw.http(QStringLiteral("/healthz"))).status, 200);
    HttpResult r = httpCall(m_nam, QByteArrayLiteral("GET"), rw.http(QStringLiteral("/api/runs")));
    QCOMPARE(r.status, 401);
    QCOMPARE(r.errorCode(), QStringLiteral("AUTH_REQUIRED"));
    r = httpCall(m_nam, QByteArrayLiteral("GET"), rw.http(QStringLiteral("/api/runs")), QByteArrayLiteral("not-the-token"));
    QCOMPARE(r.status, 401);
    QCOMPARE(r.errorCode(), QStringLiteral("AUTH_FAILED"));
    r = httpCall(m_nam, QByteArrayLiteral("POST"), rw.http(QStringLiteral("/api/events")), QByteArray(), eventsBody(QStringLiteral("tok"), 1));
    QCOMPARE(r.status, 401);
    r = httpCall(m_nam, QByteArrayLiteral("GET"), rw.http(QStringLiteral("/api/runs")), token.toUtf8());
    QCOMPARE(r.status, 200);
    QCOMPARE(r.array().size(), 0);
    r = httpCall(m_nam, QByteArrayLiteral("POST"), rw.http(QStringLiteral("/api/events")), token.toUtf8(), eventsBody(QStringLiteral("tok"), 2));
    QCOMPARE(r.status, 200);
    QUrl withQuery = rw.http(QStringLiteral("/api/runs"));
    withQuery.setQuery(QStringLiteral("token=") + QString::fromLatin1(QUrl::toPercentEncoding(token)));
    r = httpCall(m_nam, QByteArrayLiteral("GET"), withQuery);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.array().size(), 1);

    // Each start makes a token of its own.
    QTemporaryDir dir2;
    RunwatchProcess second({QStringLiteral("--headless"), QStringLiteral("--bind"), QStringLiteral("0.0.0.0"),
                     QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data-dir"), dir2.path()});
    QVERIFY(second.waitListening());
    QString token2;
    QTRY_VERIFY_WITH_TIMEOUT(!(token2 = generatedToken(second.err())).isEmpty(), Timeout);
    QVERIFY(token2 != token);
    QVERIFY(second.signal(SIGTERM));
    QVERIFY(second.waitFinished());
    QCOMPARE(second.process().exitCode(), 0);

    QVERIFY(rw.signal(SIGTERM));
    QVERIFY(rw.waitFinished());
    QCOMPARE(rw.process().exitCode(), 0);
}

void TestCli::tokenFromEnvironment_data()
{
    QTest::addColumn<QString>("envToken");
    QTest::addColumn<QString>("flagToken");
    QTest::addColumn<QString>("valid");
    QTest::addColumn<QString>("invalid");
    QTest::newRow("RUNWATCH_TOKEN") << QStringLiteral("env-secret-123") << QString() << QStringLiteral("env-secret-123") << QStringLiteral("other-secret");
    QTest::newRow("--token wins over RUNWATCH_TOKEN") << QStringLiteral("env-secret-123") << QStringLiteral("flag-secret-456")
                                                     << QStringLiteral("flag-secret-456") << QStringLiteral("env-secret-123");
}

void TestCli::tokenFromEnvironment()
{
    QFETCH(QString, envToken);
    QFETCH(QString, flagToken);
    QFETCH(QString, valid);
    QFETCH(QString, invalid);
    QTemporaryDir dir;
    QProcessEnvironment env = RunwatchProcess::cleanEnvironment();
    env.insert(QStringLiteral("RUNWATCH_TOKEN"), envToken);
    QStringList arguments{QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"),
                          QStringLiteral("--data-dir"), dir.path()};
    if (!flagToken.isEmpty())
        arguments << QStringLiteral("--token") << flagToken;
    RunwatchProcess rw(arguments, env);
    QVERIFY(rw.waitListening());
    QCOMPARE(rw.host(), QStringLiteral("127.0.0.1"));

    QCOMPARE(httpCall(m_nam, QByteArrayLiteral("GET"), rw.http(QStringLiteral("/healthz"))).status, 200);
    HttpResult r = httpCall(m_nam, QByteArrayLiteral("GET"), rw.http(QStringLiteral("/api/runs")));
    QCOMPARE(r.status, 401);
    QCOMPARE(r.errorCode(), QStringLiteral("AUTH_REQUIRED"));
    r = httpCall(m_nam, QByteArrayLiteral("GET"), rw.http(QStringLiteral("/api/runs")), invalid.toUtf8());
    QCOMPARE(r.status, 401);
    QCOMPARE(r.errorCode(), QStringLiteral("AUTH_FAILED"));
    r = httpCall(m_nam, QByteArrayLiteral("POST"), rw.http(QStringLiteral("/api/events")), invalid.toUtf8(), eventsBody(QStringLiteral("env"), 1));
    QCOMPARE(r.status, 401);
    r = httpCall(m_nam, QByteArrayLiteral("POST"), rw.http(QStringLiteral("/api/events")), valid.toUtf8(), eventsBody(QStringLiteral("env"), 1));
    QCOMPARE(r.status, 200);
    r = httpCall(m_nam, QByteArrayLiteral("GET"), rw.http(QStringLiteral("/api/runs")), valid.toUtf8());
    QCOMPARE(r.status, 200);
    QCOMPARE(r.array().size(), 1);

    // WebSocket too: the token opens a run stream.
    Test::WsProbe probe;
    probe.open(rw.ws(QStringLiteral("/ws/runs/env")), valid.toUtf8());
    QVERIFY(probe.waitConnected());
    QVERIFY(probe.waitEvents(1));

    QVERIFY(rw.signal(SIGTERM));
    QVERIFY(rw.waitFinished());
    QCOMPARE(rw.process().exitCode(), 0);
}

void TestCli::seqContinuesAcrossRestart_data()
{
    QTest::addColumn<int>("stopSignal");
    QTest::newRow("SIGTERM") << int(SIGTERM);
    QTest::newRow("SIGINT") << int(SIGINT);
    QTest::newRow("SIGKILL (crash)") << int(SIGKILL);
}

void TestCli::seqContinuesAcrossRestart()
{
    QFETCH(int, stopSignal);
    QTemporaryDir dir;
    const QStringList arguments{QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"),
                                QStringLiteral("--data-dir"), dir.path()};
    QVector<qint64> before;
    {
        RunwatchProcess rw(arguments);
        QVERIFY(rw.waitListening());
        for (int i = 0; i < 3; ++i) {
            const HttpResult r = httpCall(m_nam, QByteArrayLiteral("POST"), rw.http(QStringLiteral("/api/events")), QByteArray(),
                                          eventsBody(QStringLiteral("first"), 2));
            QCOMPARE(r.status, 200);
            before += seqsOf(r);
        }
        QCOMPARE(before.size(), 6);
        QVERIFY(rw.signal(stopSignal));
        QVERIFY(rw.waitFinished());
        if (stopSignal != SIGKILL)
            QCOMPARE(rw.process().exitCode(), 0);
    }
    const qint64 highest = *std::max_element(before.cbegin(), before.cend());

    RunwatchProcess again(arguments);
    QVERIFY(again.waitListening());
    HttpResult r = httpCall(m_nam, QByteArrayLiteral("GET"), again.http(QStringLiteral("/healthz")));
    QCOMPARE(r.status, 200);
    QVERIFY2(r.object().value(QLatin1String("last_seq")).toDouble() >= double(highest), r.body.constData());
    Test::WsProbe probe;
    probe.open(again.ws(QStringLiteral("/ws")));
    QVERIFY(probe.waitConnected());
    QVERIFY(probe.waitMessage(QStringLiteral("welcome")).value(QLatin1String("last_seq")).toDouble() >= double(highest));

    r = httpCall(m_nam, QByteArrayLiteral("POST"), again.http(QStringLiteral("/api/events")), QByteArray(), eventsBody(QStringLiteral("second"), 2));
    QCOMPARE(r.status, 200);
    const QVector<qint64> after = seqsOf(r);
    QCOMPARE(after.size(), 2);
    for (qint64 seq : after)
        QVERIFY2(seq > highest, qPrintable(QStringLiteral("seq %1 after a restart, but %2 was used before").arg(seq).arg(highest)));
    QVERIFY(after.at(1) > after.at(0));
    QVERIFY(again.signal(SIGTERM));
    QVERIFY(again.waitFinished());
    QCOMPARE(again.process().exitCode(), 0);
}

// The limit flags reach the server: each refusal names its flag.
void TestCli::limitFlagsApply()
{
    QTemporaryDir dir;
    RunwatchProcess rw({QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data-dir"), dir.path(),
                        QStringLiteral("--max-runs"), QStringLiteral("1"), QStringLiteral("--max-string-bytes"), QStringLiteral("100"),
                        QStringLiteral("--max-events-per-publish"), QStringLiteral("3"), QStringLiteral("--max-events-per-second"),
                        QStringLiteral("1")});
    QVERIFY(rw.waitListening());
    const QUrl post = rw.http(QStringLiteral("/api/events"));
    // A budget of 1 event a second, in bursts of at most one publish (3 events).
    QCOMPARE(httpCall(m_nam, QByteArrayLiteral("POST"), post, QByteArray(), eventsBody(QStringLiteral("a"), 1)).status, 200);
    HttpResult r = httpCall(m_nam, QByteArrayLiteral("POST"), post, QByteArray(), eventsBody(QStringLiteral("b"), 1));
    QCOMPARE(r.status, 413);
    QVERIFY2(r.errorMessage().contains(QLatin1String("--max-runs")), r.body.constData());
    const QJsonArray longText{Test::event(QStringLiteral("a"), QStringLiteral("log"), {{QStringLiteral("message"), QString(200, QLatin1Char('m'))}})};
    r = httpCall(m_nam, QByteArrayLiteral("POST"), post, QByteArray(), QJsonDocument(longText).toJson(QJsonDocument::Compact));
    QCOMPARE(r.status, 413);
    QVERIFY2(r.errorMessage().contains(QLatin1String("--max-string-bytes")), r.body.constData());
    r = httpCall(m_nam, QByteArrayLiteral("POST"), post, QByteArray(), eventsBody(QStringLiteral("a"), 3));
    QCOMPARE(r.status, 429);
    QCOMPARE(r.errorCode(), QStringLiteral("RATE_LIMITED"));
    QVERIFY2(r.errorMessage().contains(QLatin1String("1 events/s")), r.body.constData());
    r = httpCall(m_nam, QByteArrayLiteral("POST"), post, QByteArray(), eventsBody(QStringLiteral("a"), 4));
    QCOMPARE(r.status, 413);
    QVERIFY2(r.errorMessage().contains(QLatin1String("the limit is 3")), r.body.constData());
}

void TestCli::misspeltFlagBeforeDisplayCheck_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QStringList>("mentions");
    QTest::newRow("--hedless") << QStringList{QStringLiteral("--hedless")}
                               << QStringList{QStringLiteral("runwatch: unknown option 'hedless'"), QStringLiteral("--headless")};
    QTest::newRow("--hedless with more") << QStringList{QStringLiteral("--demo"), QStringLiteral("--hedless"), QStringLiteral("--port"), QStringLiteral("0")}
                                         << QStringList{QStringLiteral("runwatch: unknown option 'hedless'")};
    QTest::newRow("bad value") << QStringList{QStringLiteral("--port"), QStringLiteral("http")}
                               << QStringList{QStringLiteral("runwatch: --port must be"), QStringLiteral("http")};
    QTest::newRow("token file missing") << QStringList{QStringLiteral("--token-file"), QStringLiteral("/nonexistent/token")}
                                        << QStringList{QStringLiteral("runwatch: cannot read --token-file /nonexistent/token")};
    // A good command line still gets the display message.
    QTest::newRow("no display") << QStringList{QStringLiteral("--port"), QStringLiteral("0")}
                                << QStringList{QStringLiteral("runwatch: no display"), QStringLiteral("--headless")};
}

// Without any display (no DISPLAY, no WAYLAND_DISPLAY, no QT_QPA_PLATFORM) a mistake on the
// command line is named as such, not taken for a missing display.
void TestCli::misspeltFlagBeforeDisplayCheck()
{
    QFETCH(QStringList, arguments);
    QFETCH(QStringList, mentions);
    QTemporaryDir dir;
    QProcessEnvironment env = RunwatchProcess::cleanEnvironment();
    for (const char *name : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"})
        env.remove(QString::fromLatin1(name));
    arguments << QStringLiteral("--data-dir") << dir.path();
    RunwatchProcess rw(arguments, env);
    QVERIFY(rw.waitFinished());
    QCOMPARE(rw.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(rw.process().exitCode(), 2);
    QVERIFY2(rw.out().isEmpty(), rw.out().constData());
    const QStringList lines = nonEmptyLines(rw.err());
    QVERIFY2(lines.size() == 1, rw.err().constData());
    for (const QString &mention : std::as_const(mentions))
        QVERIFY2(lines.first().contains(mention), qPrintable(lines.first() + QStringLiteral(" does not say ") + mention));
    if (!mentions.first().contains(QLatin1String("no display")))
        QVERIFY2(!lines.first().contains(QLatin1String("display")), qPrintable(lines.first()));
}

void TestCli::maxStepsPerRunApplies()
{
    QTemporaryDir dir;
    RunwatchProcess rw({QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data-dir"), dir.path(),
                        QStringLiteral("--max-steps-per-run"), QStringLiteral("2")});
    QVERIFY(rw.waitListening());
    auto steps = [](int first, int count) {
        QJsonArray array;
        for (int i = first; i < first + count; ++i) {
            QJsonObject event = Test::event(QStringLiteral("plan"), QStringLiteral("step_started"), {{QStringLiteral("name"), QStringLiteral("s")}});
            event.insert(QStringLiteral("step"), QStringLiteral("s%1").arg(i));
            array.append(event);
        }
        return QJsonDocument(array).toJson(QJsonDocument::Compact);
    };
    const QUrl post = rw.http(QStringLiteral("/api/events"));
    QCOMPARE(httpCall(m_nam, QByteArrayLiteral("POST"), post, QByteArray(), steps(1, 2)).status, 200);
    const HttpResult r = httpCall(m_nam, QByteArrayLiteral("POST"), post, QByteArray(), steps(3, 1));
    QCOMPARE(r.status, 413);
    QVERIFY2(r.body.contains("--max-steps-per-run") && r.body.contains("the limit is 2"), r.body.constData());
}

void TestCli::tokensFromFilesAndEnvironment_data()
{
    // Arguments and environment; ADMIN_FILE and VIEWER_FILE are files holding the tokens below.
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QStringList>("environment");
    QTest::addColumn<QString>("admin");
    QTest::addColumn<QString>("viewer");
    const QString admin = QStringLiteral("admin-from-file");
    const QString viewer = QStringLiteral("viewer-from-file");
    QTest::newRow("--token-file") << QStringList{QStringLiteral("--token-file"), QStringLiteral("ADMIN_FILE")} << QStringList() << admin << QString();
    QTest::newRow("both files") << QStringList{QStringLiteral("--token-file"), QStringLiteral("ADMIN_FILE"), QStringLiteral("--viewer-token-file"), QStringLiteral("VIEWER_FILE")}
                                << QStringList() << admin << viewer;
    QTest::newRow("RUNWATCH_VIEWER_TOKEN") << QStringList{QStringLiteral("--token"), QStringLiteral("admin-flag")}
                                           << QStringList{QStringLiteral("RUNWATCH_VIEWER_TOKEN=viewer-env")}
                                           << QStringLiteral("admin-flag") << QStringLiteral("viewer-env");
    QTest::newRow("both from the environment") << QStringList()
                                               << QStringList{QStringLiteral("RUNWATCH_TOKEN=admin-env"), QStringLiteral("RUNWATCH_VIEWER_TOKEN=viewer-env")}
                                               << QStringLiteral("admin-env") << QStringLiteral("viewer-env");
    QTest::newRow("files win over the environment") << QStringList{QStringLiteral("--token-file"), QStringLiteral("ADMIN_FILE"), QStringLiteral("--viewer-token-file"), QStringLiteral("VIEWER_FILE")}
                                                    << QStringList{QStringLiteral("RUNWATCH_TOKEN=admin-env"), QStringLiteral("RUNWATCH_VIEWER_TOKEN=viewer-env")}
                                                    << admin << viewer;
    QTest::newRow("the last of --token and --token-file wins") << QStringList{QStringLiteral("--token"), QStringLiteral("admin-flag"), QStringLiteral("--token-file"), QStringLiteral("ADMIN_FILE")}
                                                             << QStringList() << admin << QString();
}

void TestCli::tokensFromFilesAndEnvironment()
{
    QFETCH(QStringList, arguments);
    QFETCH(QStringList, environment);
    QFETCH(QString, admin);
    QFETCH(QString, viewer);
    QTemporaryDir dir;
    const QString adminFile = dir.filePath(QStringLiteral("admin.token"));
    const QString viewerFile = dir.filePath(QStringLiteral("viewer.token"));
    {
        QFile a(adminFile), v(viewerFile);
        QVERIFY(a.open(QIODevice::WriteOnly) && v.open(QIODevice::WriteOnly));
        a.write("  admin-from-file \n# only the first line counts\n");
        v.write("viewer-from-file\r\n");
    }
    for (QString &argument : arguments) {
        argument.replace(QLatin1String("ADMIN_FILE"), adminFile);
        argument.replace(QLatin1String("VIEWER_FILE"), viewerFile);
    }
    QProcessEnvironment env = RunwatchProcess::cleanEnvironment();
    env.remove(QStringLiteral("RUNWATCH_VIEWER_TOKEN"));
    for (const QString &pair : std::as_const(environment))
        env.insert(pair.section(QLatin1Char('='), 0, 0), pair.section(QLatin1Char('='), 1));
    RunwatchProcess rw(QStringList{QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data-dir"),
                                   dir.filePath(QStringLiteral("data"))} + arguments,
                       env);
    QVERIFY(rw.waitListening());
    const QUrl runs = rw.http(QStringLiteral("/api/runs"));
    const QUrl post = rw.http(QStringLiteral("/api/events"));
    QCOMPARE(httpCall(m_nam, QByteArrayLiteral("GET"), runs).status, 401);
    QCOMPARE(httpCall(m_nam, QByteArrayLiteral("GET"), runs, QByteArrayLiteral("admin-flag-wrong")).status, 401);
    QCOMPARE(httpCall(m_nam, QByteArrayLiteral("POST"), post, admin.toUtf8(), eventsBody(QStringLiteral("t"), 1)).status, 200);
    QCOMPARE(httpCall(m_nam, QByteArrayLiteral("GET"), runs, admin.toUtf8()).status, 200);
    if (!viewer.isEmpty()) {
        QCOMPARE(httpCall(m_nam, QByteArrayLiteral("GET"), runs, viewer.toUtf8()).status, 200);
        const HttpResult r = httpCall(m_nam, QByteArrayLiteral("POST"), post, viewer.toUtf8(), eventsBody(QStringLiteral("t"), 1));
        QCOMPARE(r.status, 403); // read only
    }
    QVERIFY(rw.signal(SIGTERM));
    QVERIFY(rw.waitFinished());
    QCOMPARE(rw.process().exitCode(), 0);
}

// A demo left running keeps a bounded number of runs: old finished ones make room for new ones.
// The demo runs a hundred times faster than real time here, so generations come and go quickly.
void TestCli::demoKeepsBoundedRuns()
{
    QTemporaryDir dir;
    RunwatchProcess rw({QStringLiteral("--headless"), QStringLiteral("--demo"), QStringLiteral("--demo-speed"), QStringLiteral("100"),
                        QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data-dir"), dir.path()});
    QVERIFY(rw.waitListening());
    const QUrl runs = rw.http(QStringLiteral("/api/runs"));
    int most = 0;
    QStringList ids;
    // Until the sixth generation of five runs has started: 30 runs made in all.
    auto sixthGeneration = [&] {
        const HttpResult r = httpCall(m_nam, QByteArrayLiteral("GET"), runs);
        ids.clear();
        for (const QJsonValue &run : r.array())
            ids.append(run.toObject().value(QLatin1String("id")).toString());
        most = qMax(most, int(ids.size()));
        return std::any_of(ids.cbegin(), ids.cend(), [](const QString &id) { return id.endsWith(QLatin1String("-6")); });
    };
    QVERIFY2(QTest::qWaitFor(sixthGeneration, 60000), qPrintable(ids.join(QLatin1Char(' '))));
    QVERIFY2(most <= 12, qPrintable(QStringLiteral("%1 runs held at once: %2").arg(most).arg(ids.join(QLatin1Char(' ')))));
    QVERIFY2(most >= 10, qPrintable(QStringLiteral("only %1 runs kept").arg(most)));
    // The oldest went first: nothing of the first generation is left.
    for (const QString &id : std::as_const(ids))
        QVERIFY2(!id.endsWith(QLatin1String("-1")), qPrintable(id));
}

QTEST_MAIN(TestCli)
#include "tst_cli.moc"
