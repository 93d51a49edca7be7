#pragma once

#include "accesspolicy.h"
#include "config.h"
#include "connectionlimits.h"
#include "httpconnection.h"
#include "serverstatus.h"

#include <QElapsedTimer>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <memory>

class QTcpServer;
class QTcpSocket;

namespace Runwatch {

class Hub;
class ParsePool;
class RestApi;
class WsClient;

// The one port: it listens (plain or TLS), admits connections within the limits, hands HTTP
// requests to the REST API behind the access policy, turns upgrades into WebSocket clients, keeps
// the clients alive or drops them, and shuts down. Each of those jobs lives in a class of its own
// (AccessPolicy, ConnectionLimits, HttpConnection, RestApi, WsHandshake, WsClient, ParsePool); this
// one puts them together. Lives on the server thread with the Hub.
class Endpoint : public QObject, public HttpHandler, public ServerStatus
{
    Q_OBJECT
public:
    Endpoint(const ServerConfig &config, Hub *hub, QObject *parent = nullptr);
    ~Endpoint() override;

    bool listen(QString *error);
    quint16 port() const;
    QString host() const;
    // "https" when serving TLS, else "http".
    QString scheme() const { return m_tls ? QStringLiteral("https") : QStringLiteral("http"); }
    // Closes every WebSocket with 1001 and stops accepting; emits shutdownDone once flushed.
    void shutdown();

    Hub *hub() const { return m_hub; }
    const ServerConfig &config() const { return m_config; }
    const AccessPolicy &access() const { return m_access; }

    // ServerStatus
    const QSet<WsClient *> &clients() const override { return m_clients; }
    int httpConnections() const override { return int(m_http.size()); }
    int openConnections() const override { return m_limits.open(); }
    EndpointCounters counters() const override;
    qint64 uptimeMs() const override { return m_uptime.elapsed(); }

    // HttpHandler
    HttpResponse handleRequest(const HttpRequest &request, const QString &peer) override;
    void upgrade(HttpConnection *connection, QTcpSocket *socket, const HttpRequest &request) override;
    void connectionClosed(HttpConnection *connection) override;

Q_SIGNALS:
    void shutdownDone();
    void clientCountChanged(int count);

private:
    void onNewTcpConnection();
    // A WebSocket past its handshake: its client, the welcome, the subscription of its path.
    void accept(QTcpSocket *socket, const HttpRequest &request);
    void onClientFinished(WsClient *client);
    void sweep();
    void checkShutdownDone();

    ServerConfig m_config;
    AccessPolicy m_access;
    ConnectionLimits m_limits;
    Hub *m_hub;
    ParsePool *m_parser;
    std::unique_ptr<RestApi> m_rest;
    QTcpServer *m_tcp = nullptr;
    bool m_tls = false;
    QTimer m_sweep;
    QSet<WsClient *> m_clients;
    QSet<HttpConnection *> m_http;
    quint64 m_nextClientId = 0;
    bool m_shuttingDown = false;
    QTimer m_shutdownWait;
    QElapsedTimer m_shutdownClock;
    QElapsedTimer m_uptime;
    EndpointCounters m_counters;
};

} // namespace Runwatch
