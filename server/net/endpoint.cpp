#include "endpoint.h"

#include "codec.h"
#include "hub.h"
#include "parsepool.h"
#include "restapi.h"
#include "tlsconfig.h"
#include "version.h"
#include "wsclient.h"
#include "wsframes.h"
#include "wshandshake.h"

#include <QDateTime>
#include <QSslServer>
#include <QTcpServer>
#include <QTcpSocket>

namespace Runwatch {

namespace {

// Writes a last answer and lets the socket go once it is out.
void answerAndClose(QTcpSocket *socket, const HttpResponse &response)
{
    socket->write(Http::serialize(response, false, false));
    socket->disconnectFromHost();
    QObject::connect(socket, &QAbstractSocket::disconnected, socket, &QObject::deleteLater);
    if (socket->state() == QAbstractSocket::UnconnectedState)
        socket->deleteLater();
}

} // namespace

Endpoint::Endpoint(const ServerConfig &config, Hub *hub, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_access(config)
    , m_limits(config.maxConnections, config.maxConnectionsPerAddress)
    , m_hub(hub)
    , m_parser(new ParsePool(config.parseThreads, this))
    , m_rest(std::make_unique<RestApi>(m_config, hub, this))
{
    m_uptime.start();
    connect(&m_sweep, &QTimer::timeout, this, &Endpoint::sweep);
    connect(&m_shutdownWait, &QTimer::timeout, this, &Endpoint::checkShutdownDone);
}

Endpoint::~Endpoint()
{
    // Parse jobs post their results to the pool: none may still be running once clients go.
    delete m_parser;
    m_parser = nullptr;
    // Clients unregister from the Hub in their destructors, while it exists: every one, also those
    // finished and waiting for deleteLater.
    qDeleteAll(findChildren<WsClient *>(Qt::FindDirectChildrenOnly));
}

bool Endpoint::listen(QString *error)
{
    if (!m_config.tlsCertFile.isEmpty() || !m_config.tlsKeyFile.isEmpty()) {
        QSslConfiguration tls;
        if (!loadTlsConfiguration(m_config.tlsCertFile, m_config.tlsKeyFile, &tls, error))
            return false;
        // Qt's TLS server hands a connection on only once its handshake is done, and drops one
        // that takes longer than the handshake time or fails, without disturbing anyone else.
        auto *server = new QSslServer(this);
        server->setSslConfiguration(tls);
        server->setHandshakeTimeout(m_config.handshakeTimeoutMs);
        m_tcp = server;
        m_tls = true;
    } else {
        m_tcp = new QTcpServer(this);
    }
    m_tcp->setListenBacklogSize(1024);
    m_tcp->setMaxPendingConnections(1024);
    if (!m_tcp->listen(m_config.bind, m_config.port)) {
        *error = QStringLiteral("cannot listen on %1:%2: %3")
                     .arg(m_config.bind.toString())
                     .arg(m_config.port)
                     .arg(m_tcp->errorString());
        return false;
    }
    // pendingConnectionAvailable, not newConnection: a TLS server announces a connection only once
    // its handshake is done (newConnection comes at accept time, with nothing pending yet).
    connect(m_tcp, &QTcpServer::pendingConnectionAvailable, this, &Endpoint::onNewTcpConnection);

    const int smallest = qMin(m_config.pingIntervalMs > 0 ? m_config.pingIntervalMs : 1000,
                              m_config.keepaliveTimeoutMs > 0 ? m_config.keepaliveTimeoutMs : 1000);
    m_sweep.start(qBound(20, smallest / 4, 1000));
    return true;
}

quint16 Endpoint::port() const
{
    return m_tcp ? m_tcp->serverPort() : 0;
}

QString Endpoint::host() const
{
    const QHostAddress address = m_tcp ? m_tcp->serverAddress() : m_config.bind;
    if (address.protocol() == QAbstractSocket::IPv6Protocol)
        return QLatin1Char('[') + address.toString() + QLatin1Char(']');
    return address.toString();
}

EndpointCounters Endpoint::counters() const
{
    EndpointCounters counters = m_counters;
    counters.connectionsRefused = m_limits.refused();
    counters.parsedAhead = m_parser ? m_parser->submitted() : 0;
    return counters;
}

void Endpoint::onNewTcpConnection()
{
    while (QTcpSocket *socket = m_tcp->nextPendingConnection()) {
        if (m_shuttingDown) {
            socket->abort();
            socket->deleteLater();
            continue;
        }
        // Past a bound the peer gets one short answer and is closed; everyone already connected is
        // unaffected.
        HttpResponse refusal;
        if (!m_limits.admit(socket, &refusal)) {
            answerAndClose(socket, refusal);
            continue;
        }
        // No Nagle: every frame and response is written whole, in one go, and must leave at once.
        // With it, a frame written while the previous one is unacknowledged waits for the peer's
        // delayed ACK, up to 40 ms on Linux, and a subscriber that only reads never sends one sooner.
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        socket->setReadBufferSize(qMax<qint64>(m_config.maxHeaderBytes * 2, 1024 * 1024));
        m_http.insert(new HttpConnection(socket, m_config, this, this));
    }
}

void Endpoint::connectionClosed(HttpConnection *connection)
{
    if (m_http.remove(connection))
        connection->deleteLater();
}

HttpResponse Endpoint::handleRequest(const HttpRequest &request, const QString &peer)
{
    ++m_counters.httpRequests;
    HttpResponse response = m_access.refusal(request);
    if (response.status != 0)
        return response;
    if (request.method == "OPTIONS") {
        response = HttpResponse();
        response.status = 204;
    } else {
        bool wrong = false;
        const Role role = m_access.roleFor(AccessPolicy::tokenOf(request), &wrong);
        response = m_rest->handle(request, role, wrong, peer);
        if (response.status == 401)
            response.addHeader("WWW-Authenticate", "Bearer realm=\"runwatch\"");
    }
    m_access.addCorsHeaders(request, &response);
    return response;
}

void Endpoint::upgrade(HttpConnection *connection, QTcpSocket *socket, const HttpRequest &request)
{
    socket->setParent(this);
    if (m_http.remove(connection))
        connection->deleteLater();
    WsHandshake::Result handshake = WsHandshake::answer(request, m_access);
    if (m_shuttingDown)
        handshake = {false, HttpResponse::error(503, QStringLiteral("INVALID_REQUEST"), QStringLiteral("server is shutting down")), {}};
    if (!handshake.ok) {
        ++m_counters.rejectedHandshakes;
        answerAndClose(socket, handshake.refusal);
        return;
    }
    socket->write(handshake.answer);
    // The socket reads in chunks from here on; the kernel holds the rest back.
    socket->setReadBufferSize(1024 * 1024);
    accept(socket, request);
}

void Endpoint::accept(QTcpSocket *socket, const HttpRequest &request)
{
    ++m_counters.wsAccepted;
    bool wrong = false;
    const Role role = m_access.roleFor(AccessPolicy::tokenOf(request), &wrong);
    const QString path = QString::fromUtf8(QByteArray::fromPercentEncoding(request.path));
    const WsContext context{&m_config, m_hub, &m_access, m_parser};
    auto *client = new WsClient(socket, context, QStringLiteral("c%1").arg(++m_nextClientId), role, path, this);
    m_clients.insert(client);
    connect(client, &WsClient::finished, this, &Endpoint::onClientFinished);
    Q_EMIT clientCountChanged(int(m_clients.size()));

    client->sendJson(QJsonObject{{QStringLiteral("type"), QStringLiteral("welcome")},
                                 {QStringLiteral("client_id"), client->id()},
                                 {QStringLiteral("protocol"), 1},
                                 {QStringLiteral("server"), QStringLiteral("runwatch")},
                                 {QStringLiteral("version"), QStringLiteral(RUNWATCH_VERSION)},
                                 {QStringLiteral("role"), roleName(role)},
                                 {QStringLiteral("last_seq"), double(m_hub->lastSeq())}});
    if (wrong) {
        client->sendError(Error{ErrorCode::AuthFailed, QStringLiteral("wrong token")});
        client->closeWith(4401, QStringLiteral("AUTH_FAILED"));
        return;
    }

    qint64 since = 0;
    bool sinceGiven = false;
    const QString sinceText = request.queryValue(QStringLiteral("since"), &sinceGiven);
    const QString replay = request.queryValue(QStringLiteral("replay"));
    if (sinceGiven && !sinceText.isEmpty()) {
        if (!Codec::parseCount(sinceText, &since)) {
            client->sendError(Error{ErrorCode::InvalidRequest, QStringLiteral("since= must be a seq number")});
            client->closeWith(4400, QStringLiteral("INVALID_REQUEST"));
            return;
        }
    } else if (replay == QLatin1String("0") || replay == QLatin1String("false")) {
        since = -1;
    }
    client->setDefaultSince(since);

    const QStringList parts = path.split(QLatin1Char('/'), Qt::SkipEmptyParts);
    if (parts.size() < 2)
        return; // /ws: ops decide
    if (!canRead(role)) {
        client->sendError(Error{ErrorCode::AuthRequired, QStringLiteral("this path needs a token (?token= or Authorization: Bearer)")});
        client->closeWith(4401, QStringLiteral("AUTH_REQUIRED"));
        return;
    }
    if (parts.size() == 2)
        m_hub->subscribe(client, Subscription::Target::Lifecycle, QString(), since, false);
    else
        m_hub->subscribe(client, Subscription::Target::Run, parts.at(2), since, false);
}

void Endpoint::onClientFinished(WsClient *client)
{
    if (m_clients.remove(client)) {
        client->deleteLater();
        Q_EMIT clientCountChanged(int(m_clients.size()));
    }
}

void Endpoint::sweep()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const QSet<WsClient *> clients = m_clients;
    for (WsClient *client : clients) {
        if (!client->keepalive(now))
            ++m_counters.keepaliveDropped;
    }
}

void Endpoint::shutdown()
{
    if (m_shuttingDown)
        return;
    m_shuttingDown = true;
    if (m_tcp)
        m_tcp->close();
    m_hub->flush();
    for (WsClient *client : std::as_const(m_clients))
        client->closeWith(WsFrames::CloseGoingAway, QStringLiteral("server shutting down"));
    const QSet<HttpConnection *> http = m_http;
    for (HttpConnection *connection : http)
        connection->close();
    // Give the close frames a moment to leave, then report.
    m_shutdownClock.start();
    m_shutdownWait.start(10);
}

void Endpoint::checkShutdownDone()
{
    if (m_clients.isEmpty() || m_shutdownClock.elapsed() > 1500) {
        m_shutdownWait.stop();
        Q_EMIT shutdownDone();
    }
}

} // namespace Runwatch
