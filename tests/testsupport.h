#pragma once

#include "config.h"
#include "server.h"

#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QObject>
#include <QPair>
#include <QTest>
#include <QRegularExpression>
#include <QProcessEnvironment>
#include <QProcess>
#include <QTemporaryDir>
#include <QUrl>
#include <QVector>
#include <QWebSocket>

#include <functional>
#include <memory>

#include <signal.h>
#include <sys/types.h>

namespace Runwatch::Test {

// A real server on 127.0.0.1, port 0, with a fresh temporary data dir.
class TestServer
{
public:
    explicit TestServer(ServerConfig config = ServerConfig());
    ~TestServer();
    bool start();
    void stop();
    Server &server() { return *m_server; }
    quint16 port() const { return m_server->port(); }
    QUrl http(const QString &pathAndQuery) const;
    QUrl ws(const QString &pathAndQuery) const;
    ServerConfig &config() { return m_config; }

private:
    ServerConfig m_config;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Server> m_server;
};

// A WebSocket client that records every frame it receives. Batch frames are unpacked into
// events(); other messages (welcome, ack, error, ...) land in messages().
class WsProbe : public QObject
{
    Q_OBJECT
public:
    explicit WsProbe(QObject *parent = nullptr);
    ~WsProbe() override;

    void open(const QUrl &url, const QByteArray &bearer = QByteArray());
    bool waitConnected(int timeoutMs = 5000);
    bool waitClosed(int timeoutMs = 5000);
    void send(const QJsonObject &object);
    void sendText(const QString &text);

    // Events (envelopes with a seq), in arrival order, batches unpacked.
    const QVector<QJsonObject> &events() const { return m_events; }
    // Every non-event message, in arrival order.
    const QVector<QJsonObject> &messages() const { return m_messages; }
    int frames() const { return m_frames; }
    QVector<qint64> seqs() const;
    // The first message of this type, waiting up to timeoutMs for it.
    QJsonObject waitMessage(const QString &type, int timeoutMs = 5000);
    bool waitEvents(int count, int timeoutMs = 5000);
    bool isConnected() const;
    int closeCode() const { return m_closeCode; }
    QString closeReason() const { return m_closeReason; }
    QWebSocket &socket() { return *m_socket; }
    void clear();

private:
    void onText(const QString &text);
    QWebSocket *m_socket;
    QVector<QJsonObject> m_events;
    QVector<QJsonObject> m_messages;
    int m_frames = 0;
    int m_closeCode = -1;
    QString m_closeReason;
    bool m_closed = false;
};

QJsonObject event(const QString &run, const QString &type, const QJsonObject &data = {},
                  const QString &step = QString());

// Extra request headers for httpCall, sent as given (a "Content-Type" here replaces the default).
using HttpHeaders = QList<QPair<QByteArray, QByteArray>>;

// The answer to one HTTP request made with httpCall.
struct HttpResult {
    bool finished = false; // false: no answer within the timeout (the request was aborted)
    int status = 0;        // 0: no answer
    QByteArray body;
    QHash<QByteArray, QByteArray> headers; // names in lower case

    QByteArray header(const char *name) const { return headers.value(QByteArray(name).toLower()); }
    bool hasHeader(const char *name) const { return headers.contains(QByteArray(name).toLower()); }
    QByteArray wwwAuthenticate() const { return header("WWW-Authenticate"); }
    // The X-Runwatch-Next-Since of a bounded events page (empty: the page was the last one).
    QByteArray nextSince() const { return header("X-Runwatch-Next-Since"); }
    QJsonObject object() const;
    QJsonArray array() const;
    bool isJsonObject() const;
    bool isJsonArray() const;
    // The "code" and "message" of an {"error": {...}} body.
    QString errorCode() const;
    QString errorMessage() const;
};

// One HTTP/1.1 request through QNetworkAccessManager, waited for (10 s at most). Any verb: GET,
// HEAD and DELETE go through their own QNetworkAccessManager calls and without a body; the rest
// are custom requests with the body and Content-Type: application/json (unless headers name
// another). Redirects are not followed (a 3xx is the answer).
HttpResult httpCall(QNetworkAccessManager &nam, const QByteArray &verb, const QUrl &url,
                    const QByteArray &bearer = QByteArray(), const QByteArray &body = QByteArray(),
                    const HttpHeaders &headers = HttpHeaders());

// Helpers shared by the WebSocket suites.
std::unique_ptr<WsProbe> openProbe(const QUrl &url, const QByteArray &bearer = QByteArray());
// Every non-event message of one type, in arrival order.
QVector<QJsonObject> ofType(const WsProbe &probe, const QString &type);
// The first message (ack, error, pong, ...) that carries this id.
QJsonObject answerTo(const WsProbe &probe, const QJsonValue &id);
QJsonObject waitAnswer(WsProbe &probe, const QJsonValue &id, int timeoutMs = 10000);
// A fresh op id ("req-1", "req-2", ...).
QString nextId();
// A ping op round trip: everything the server sent this client before the pong has arrived.
bool sync(WsProbe &probe);
QVector<qint64> seqList(const QJsonArray &array);
// One sample of a /metrics text, by its full name with any labels ("runwatch_tcp_connections",
// "runwatch_connections{kind=\"http\"}"); -1 when absent.
qint64 metricValue(const QByteArray &metrics, const QByteArray &sample);
// Publishes with an id and waits for the ack; returns the acked seqs (empty on error or timeout).
QVector<qint64> publishAcked(WsProbe &producer, const QJsonArray &events, int timeoutMs = 10000);
QJsonObject publishOp(const QJsonArray &events, const QJsonValue &id = QJsonValue());

// A runwatch process started by a test; finds the port in its "listening" line.
class RunwatchProcess
{
public:
    static constexpr int Timeout = 10000;
    // The system's environment without RUNWATCH_TOKEN, so that a developer's token does not leak in.
    static QProcessEnvironment cleanEnvironment()
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("RUNWATCH_TOKEN"));
        return env;
    }
    // The binary under test: RUNWATCH_BINARY, which CTest sets.
    static QString binary() { return qEnvironmentVariable("RUNWATCH_BINARY"); }

    explicit RunwatchProcess(const QStringList &arguments, const QProcessEnvironment &env = cleanEnvironment())
    {
        m_process.setProgram(binary());
        m_process.setArguments(arguments);
        m_process.setProcessEnvironment(env);
        m_process.start();
    }
    ~RunwatchProcess()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }

    // Waits for the "runwatch listening on http://HOST:PORT" line (or the end of the process).
    bool waitListening()
    {
        (void)QTest::qWaitFor(
            [this] {
                collect();
                return m_out.contains('\n') || m_process.state() == QProcess::NotRunning;
            },
            Timeout);
        collect();
        static const QRegularExpression line(QStringLiteral("^runwatch listening on http://(\\[[^\\]]+\\]|[^\\s:/]+):(\\d+)\\n"));
        const QRegularExpressionMatch m = line.match(QString::fromUtf8(m_out));
        if (!m.hasMatch()) {
            qWarning("no listening line; stdout: %s stderr: %s", m_out.constData(), m_err.constData());
            return false;
        }
        m_host = m.captured(1);
        m_port = quint16(m.captured(2).toUInt());
        return m_port != 0;
    }

    // Waits for the process to end; false when it is still running after the timeout.
    bool waitFinished(int timeoutMs = Timeout)
    {
        (void)QTest::qWaitFor(
            [this] {
                collect();
                return m_process.state() == QProcess::NotRunning;
            },
            timeoutMs);
        collect();
        return m_process.state() == QProcess::NotRunning;
    }

    bool signal(int sig) { return m_process.processId() > 0 && ::kill(pid_t(m_process.processId()), sig) == 0; }

    void collect()
    {
        m_out.append(m_process.readAllStandardOutput());
        m_err.append(m_process.readAllStandardError());
    }

    QProcess &process() { return m_process; }
    QByteArray out()
    {
        collect();
        return m_out;
    }
    QByteArray err()
    {
        collect();
        return m_err;
    }
    quint16 port() const { return m_port; }
    QString host() const { return m_host; }
    QUrl http(const QString &pathAndQuery) const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(pathAndQuery));
    }
    QUrl ws(const QString &pathAndQuery) const
    {
        return QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(m_port).arg(pathAndQuery));
    }

private:
    QProcess m_process;
    QByteArray m_out;
    QByteArray m_err;
    quint16 m_port = 0;
    QString m_host;
};

} // namespace Runwatch::Test
