#pragma once

#include "config.h"
#include "http.h"
#include "wsclient.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QPointer>
#include <QSet>

#include <memory>

class QThreadPool;
class QTcpServer;
class QTcpSocket;
class QTimer;

namespace Runwatch {

class Hub;
class HttpConnection;
class RestApi;
class WsClient;

// Open TCP connections, in total and per peer address (shared with the sockets' slot objects).
struct ConnectionCounts {
    int total = 0;
    QHash<QString, int> perAddress;
};

struct EndpointCounters {
    qint64 httpRequests = 0;
    qint64 wsAccepted = 0;
    qint64 keepaliveDropped = 0;
    qint64 connectionsRefused = 0;
    qint64 rejectedHandshakes = 0;
    qint64 parsedAhead = 0; // WebSocket messages parsed on a parse thread
};

// The one port: plain HTTP (REST, dashboard) and WebSocket upgrades, with auth, limits and
// keepalive. Lives on the server thread with the Hub.
class Endpoint : public QObject
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

    // Parse threads (config parseThreads): hands `text` to one to be parsed into `out`; the
    // client hears of it through parsedAhead() on this thread, if it still exists by then.
    // False when there are none.
    bool parseAhead(WsClient *client, const QByteArray &text, const WsClient::ParseLimits &limits,
                    std::shared_ptr<WsClient::Incoming> out);
    void registerClient(WsClient *client);
    void unregisterClient(WsClient *client);

    // Roles: resolves a token (empty: none given). *wrong is set when a token was given but
    // matches none.
    Role roleFor(const QString &token, bool *wrong) const;
    bool isOpen() const { return m_config.token.isEmpty(); }

    Hub *hub() const { return m_hub; }
    const ServerConfig &config() const { return m_config; }
    const QSet<WsClient *> &clients() const { return m_clients; }
    int httpConnections() const { return int(m_http.size()); }
    // Open TCP connections, whatever they carry (what the connection limits count).
    int openConnections() const { return m_counts->total; }
    const EndpointCounters &counters() const { return m_counters; }
    qint64 uptimeMs() const { return m_uptime.elapsed(); }

    // Called by HttpConnection.
    HttpResponse handleRequest(const HttpRequest &request, const QString &peer);
    void upgrade(HttpConnection *connection, QTcpSocket *socket, const HttpRequest &request);
    void connectionClosed(HttpConnection *connection);

Q_SIGNALS:
    void shutdownDone();
    void clientCountChanged(int count);

private:
    void onNewTcpConnection();
    // A WebSocket past its handshake: its client, the welcome, the subscription of its path.
    void accept(QTcpSocket *socket, const HttpRequest &request);
    void onClientFinished(WsClient *client);
    void sweep();
    bool hostAllowed(const HttpRequest &request) const;
    bool originAllowed(const HttpRequest &request) const;
    QString tokenOf(const HttpRequest &request) const;

    ServerConfig m_config;
    Hub *m_hub;
    std::unique_ptr<RestApi> m_rest;
    QTcpServer *m_tcp = nullptr;
    bool m_tls = false;
    QTimer *m_sweep = nullptr;
    QSet<WsClient *> m_clients;
    QSet<HttpConnection *> m_http;
    std::shared_ptr<ConnectionCounts> m_counts = std::make_shared<ConnectionCounts>();
    std::unique_ptr<QThreadPool> m_parsePool;
    qint64 m_parsingAheadBytes = 0;         // of the texts on parse threads now, over all clients
    QHash<quint64, WsClient *> m_bySerial; // every WsClient of this endpoint, for parse results
    quint64 m_nextClientId = 0;
    bool m_shuttingDown = false;
    QElapsedTimer m_uptime;
    EndpointCounters m_counters;
};

} // namespace Runwatch
