#pragma once

#include "config.h"
#include "server.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QObject>
#include <QTemporaryDir>
#include <QUrl>
#include <QVector>
#include <QWebSocket>

#include <functional>
#include <memory>

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
// Publishes with an id and waits for the ack; returns the acked seqs (empty on error or timeout).
QVector<qint64> publishAcked(WsProbe &producer, const QJsonArray &events, int timeoutMs = 10000);
QJsonObject publishOp(const QJsonArray &events, const QJsonValue &id = QJsonValue());

} // namespace Runwatch::Test
