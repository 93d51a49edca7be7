#pragma once

#include "config.h"
#include "http.h"

#include <QObject>
#include <QPointer>

#include <memory>

class QTcpSocket;
class QTimer;

namespace Runwatch {

class HttpConnection;

// What an HTTP connection hands on: its requests, its upgrade, its end.
class HttpHandler
{
public:
    virtual ~HttpHandler() = default;
    virtual HttpResponse handleRequest(const HttpRequest &request, const QString &peer) = 0;
    // The connection is done: the socket (past the request head) is the handler's now.
    virtual void upgrade(HttpConnection *connection, QTcpSocket *socket, const HttpRequest &request) = 0;
    virtual void connectionClosed(HttpConnection *connection) = 0;
};

// One TCP connection while it speaks HTTP/1.1 (keep-alive, pipelining in order). Hands the socket
// to the WebSocket server when a request asks for an upgrade.
//
// Timeouts: the request head must arrive within handshakeTimeoutMs of its first byte; a body may
// take as long as it needs as long as it is never silent for httpBodyTimeoutMs; an idle keep-alive
// connection closes after httpIdleTimeoutMs. Answers the client does not read are bounded: past
// MaxUnsentBytes no further request is read, and a connection whose answers make no progress for
// httpWriteTimeoutMs is dropped.
class HttpConnection : public QObject
{
    Q_OBJECT
public:
    HttpConnection(QTcpSocket *socket, const ServerConfig &config, HttpHandler *handler, QObject *parent);
    ~HttpConnection() override;

    // Writes a final error response and closes.
    void fail(int status, const QString &code, const QString &message);
    void close();

    // Unsent answer bytes above which pipelined requests wait unread.
    static constexpr qint64 MaxUnsentBytes = 4 * 1024 * 1024;
    // Answers 401 on one connection before it is closed.
    static constexpr int MaxFailedAuth = 5;

private:
    enum class State { Head, Body, Chunked, Lingering, Closing };
    void process();
    void finishRequest();
    void restartHeadTimer();
    void written();
    void watchWrites();

    QPointer<QTcpSocket> m_socket;
    const ServerConfig &m_config;
    HttpHandler *m_handler;
    QTimer *m_timer;
    QTimer *m_writeTimer;
    bool m_held = false; // not reading: too much unsent
    int m_failedAuth = 0;
    State m_state = State::Head;
    static constexpr int LingerMs = 2000;
    static constexpr qint64 LingerMaxBytes = qint64(64) * 1024 * 1024;
    qint64 m_lingerBytes = 0;
    HttpRequest m_request;
    QByteArray m_buffer;     // body bytes read so far
    qint64 m_bodyLength = 0;
    std::unique_ptr<Http::ChunkedDecoder> m_chunked;
    QString m_peer;
    bool m_idle = true;
};

} // namespace Runwatch
