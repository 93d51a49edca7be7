#include "endpoint.h"

#include "tlsserver.h"

#include "codec.h"
#include "httpconnection.h"
#include "hub.h"
#include "restapi.h"
#include "version.h"
#include "wsclient.h"
#include "wsframes.h"

#include <QDateTime>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <QThreadPool>
#include <QTimer>
#include <QUrlQuery>

namespace Runwatch {

namespace {

// Lives as a child of a counted socket and gives its place back when the socket is destroyed.
class ConnectionSlot : public QObject
{
public:
    ConnectionSlot(std::shared_ptr<ConnectionCounts> counts, const QString &address, QObject *socket)
        : QObject(socket), m_counts(std::move(counts)), m_address(address)
    {
        ++m_counts->total;
        ++m_counts->perAddress[m_address];
    }
    ~ConnectionSlot() override
    {
        --m_counts->total;
        auto it = m_counts->perAddress.find(m_address);
        if (it != m_counts->perAddress.end() && --it.value() <= 0)
            m_counts->perAddress.erase(it);
    }

private:
    std::shared_ptr<ConnectionCounts> m_counts;
    QString m_address;
};

} // namespace

QString roleName(Role role)
{
    switch (role) {
    case Role::None: return QStringLiteral("none");
    case Role::Viewer: return QStringLiteral("viewer");
    case Role::Producer: return QStringLiteral("producer");
    case Role::Admin: return QStringLiteral("admin");
    }
    return QString();
}

namespace {

bool constantTimeEquals(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a.at(i) ^ b.at(i));
    return diff == 0;
}

QString bearerToken(const QByteArray &authorization)
{
    const QByteArray value = authorization.trimmed();
    if (value.size() > 7 && qstrnicmp(value.constData(), "Bearer ", 7) == 0)
        return QString::fromUtf8(value.mid(7).trimmed());
    return QString();
}

// Host part of a Host header: "localhost:7600" -> "localhost", "[::1]:7600" -> "::1".
QString hostPart(const QByteArray &hostHeader)
{
    QString host = QString::fromLatin1(hostHeader).trimmed().toLower();
    if (host.startsWith(QLatin1Char('['))) {
        const int close = int(host.indexOf(QLatin1Char(']')));
        return close > 0 ? host.mid(1, close - 1) : QString();
    }
    const int colon = int(host.lastIndexOf(QLatin1Char(':')));
    return colon >= 0 ? host.left(colon) : host;
}

} // namespace

Endpoint::Endpoint(const ServerConfig &config, Hub *hub, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_hub(hub)
    , m_rest(std::make_unique<RestApi>(this))
{
    m_uptime.start();
    const int threads = m_config.parseThreads >= 0 ? m_config.parseThreads : (QThread::idealThreadCount() >= 2 ? 1 : 0);
    if (threads > 0) {
        m_parsePool = std::make_unique<QThreadPool>();
        m_parsePool->setMaxThreadCount(threads);
        m_parsePool->setExpiryTimeout(-1);
    }
}

Endpoint::~Endpoint()
{
    // Parse jobs post their results to this object: none may still be running once it is gone
    // (results already posted are dropped with it).
    if (m_parsePool) {
        m_parsePool->clear();
        m_parsePool->waitForDone();
    }
    // Clients unregister from the Hub (and from here) in their destructors, while both exist:
    // every one, also those finished and waiting for deleteLater.
    const QList<WsClient *> clients = m_bySerial.values();
    for (WsClient *client : clients)
        delete client;
}

bool Endpoint::listen(QString *error)
{
    if (!m_config.tlsCertFile.isEmpty() || !m_config.tlsKeyFile.isEmpty()) {
        QSslConfiguration tls;
        if (!TlsServer::loadConfiguration(m_config.tlsCertFile, m_config.tlsKeyFile, &tls, error))
            return false;
        m_tcp = new TlsServer(tls, m_config.handshakeTimeoutMs, this);
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
    connect(m_tcp, &QTcpServer::newConnection, this, &Endpoint::onNewTcpConnection);

    const int smallest = qMin(m_config.pingIntervalMs > 0 ? m_config.pingIntervalMs : 1000,
                              m_config.keepaliveTimeoutMs > 0 ? m_config.keepaliveTimeoutMs : 1000);
    m_sweep = new QTimer(this);
    m_sweep->setInterval(qBound(20, smallest / 4, 1000));
    connect(m_sweep, &QTimer::timeout, this, &Endpoint::sweep);
    m_sweep->start();
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

Role Endpoint::roleFor(const QString &token, bool *wrong) const
{
    *wrong = false;
    if (m_config.token.isEmpty())
        return Role::Admin;
    if (token.isEmpty())
        return Role::None;
    const QByteArray given = token.toUtf8();
    if (constantTimeEquals(given, m_config.token.toUtf8()))
        return Role::Admin;
    if (!m_config.viewerToken.isEmpty() && constantTimeEquals(given, m_config.viewerToken.toUtf8()))
        return Role::Viewer;
    *wrong = true;
    return Role::None;
}

QString Endpoint::tokenOf(const HttpRequest &request) const
{
    const QString bearer = bearerToken(request.header("Authorization"));
    if (!bearer.isEmpty())
        return bearer;
    return request.queryValue(QStringLiteral("token"));
}

bool Endpoint::hostAllowed(const HttpRequest &request) const
{
    // On a loopback bind, only loopback host names are served: a page on another site that
    // rebinds its own name to 127.0.0.1 must not reach an open server.
    if (!m_config.bind.isLoopback() || !request.hasHeader("Host"))
        return true;
    const QString host = hostPart(request.header("Host"));
    if (host == QLatin1String("localhost") || host.endsWith(QLatin1String(".localhost")))
        return true;
    const QHostAddress address(host);
    return !address.isNull() && address.isLoopback();
}

bool Endpoint::originAllowed(const HttpRequest &request) const
{
    const QByteArray origin = request.header("Origin");
    if (origin.isEmpty())
        return true;
    const QString text = QString::fromLatin1(origin).toLower();
    if (m_config.allowedOrigins.contains(QStringLiteral("*")) || m_config.allowedOrigins.contains(text))
        return true;
    const QString host = QString::fromLatin1(request.header("Host")).toLower();
    return text == QLatin1String("http://") + host || text == QLatin1String("https://") + host;
}

void Endpoint::onNewTcpConnection()
{
    while (QTcpSocket *socket = m_tcp->nextPendingConnection()) {
        if (m_shuttingDown) {
            socket->abort();
            socket->deleteLater();
            continue;
        }
        // Bounded: connections in total and per peer address. Past a bound the peer gets one short
        // answer and is closed; everyone already connected is unaffected.
        const QString address = socket->peerAddress().toString();
        const int fromAddress = m_counts->perAddress.value(address, 0);
        if (m_counts->total >= m_config.maxConnections || fromAddress >= m_config.maxConnectionsPerAddress) {
            ++m_counters.connectionsRefused;
            const bool perAddress = fromAddress >= m_config.maxConnectionsPerAddress;
            const HttpResponse refusal = HttpResponse::error(
                perAddress ? 429 : 503, QStringLiteral("RATE_LIMITED"),
                perAddress ? QStringLiteral("too many connections from %1 (at most %2)").arg(address).arg(m_config.maxConnectionsPerAddress)
                           : QStringLiteral("the server holds its maximum of %1 connections").arg(m_config.maxConnections));
            socket->write(Http::serialize(refusal, false, false));
            socket->disconnectFromHost();
            connect(socket, &QAbstractSocket::disconnected, socket, &QObject::deleteLater);
            if (socket->state() == QAbstractSocket::UnconnectedState)
                socket->deleteLater();
            continue;
        }
        // Counted until the socket object is gone, whatever it became (HTTP or WebSocket): a child
        // object gives the place back when it is destroyed with the socket.
        new ConnectionSlot(m_counts, address, socket);
        // No Nagle: every frame and response is written whole, in one go, and must leave at once.
        // With it, a frame written while the previous one is unacknowledged waits for the peer's
        // delayed ACK, up to 40 ms on Linux, and a subscriber that only reads never sends one sooner.
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        socket->setReadBufferSize(qMax<qint64>(m_config.maxHeaderBytes * 2, 1024 * 1024));
        auto *connection = new HttpConnection(socket, this, this);
        m_http.insert(connection);
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
    if (!hostAllowed(request))
        return HttpResponse::error(403, QStringLiteral("FORBIDDEN"),
                                   QStringLiteral("this server answers only to loopback host names"));
    const QByteArray origin = request.header("Origin");
    const bool allowed = originAllowed(request);
    // A page from another site gets nothing, reads included (unless allowed with --allow-origin);
    // only the CORS preflight is answered, without the headers that would let the browser go on.
    if (!allowed && request.method != "OPTIONS")
        return HttpResponse::error(403, QStringLiteral("FORBIDDEN"),
                                   QStringLiteral("origin %1 is not allowed (see --allow-origin)")
                                       .arg(QString::fromLatin1(origin)));
    HttpResponse response;
    if (request.method == "OPTIONS") {
        response.status = 204;
        if (allowed && !origin.isEmpty()) {
            response.addHeader("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
            response.addHeader("Access-Control-Allow-Headers", "Authorization, Content-Type");
            response.addHeader("Access-Control-Max-Age", "600");
        }
    } else {
        bool wrong = false;
        const Role role = roleFor(tokenOf(request), &wrong);
        response = m_rest->handle(request, role, wrong, peer);
        if (response.status == 401)
            response.addHeader("WWW-Authenticate", "Bearer realm=\"runwatch\"");
    }
    if (allowed && !origin.isEmpty()) {
        response.addHeader("Access-Control-Allow-Origin", origin);
        response.addHeader("Vary", "Origin");
    }
    return response;
}

void Endpoint::upgrade(HttpConnection *connection, QTcpSocket *socket, const HttpRequest &request)
{
    socket->setParent(this);
    if (m_http.remove(connection))
        connection->deleteLater();

    auto reject = [&](int status, const QString &code, const QString &message, const QByteArray &extraHeader = {}) {
        ++m_counters.rejectedHandshakes;
        HttpResponse response = HttpResponse::error(status, code, message);
        if (!extraHeader.isEmpty())
            response.addHeader(extraHeader.left(extraHeader.indexOf(':')), extraHeader.mid(extraHeader.indexOf(':') + 2));
        socket->write(Http::serialize(response, false, false));
        socket->disconnectFromHost();
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        if (socket->state() == QAbstractSocket::UnconnectedState)
            socket->deleteLater();
    };
    QStringList segments;
    if (m_shuttingDown)
        return reject(503, QStringLiteral("INVALID_REQUEST"), QStringLiteral("server is shutting down"));
    if (request.method != "GET")
        return reject(405, QStringLiteral("METHOD_NOT_ALLOWED"), QStringLiteral("a WebSocket upgrade must be a GET"));
    if (!Http::splitPath(request.path, &segments) || segments.value(0) != QLatin1String("ws") || segments.size() > 3
        || (segments.size() >= 2 && segments.at(1) != QLatin1String("runs"))
        || (segments.size() == 3 && !Codec::isValidRunId(segments.at(2))))
        return reject(404, QStringLiteral("NOT_FOUND"),
                      QStringLiteral("WebSocket paths are /ws, /ws/runs and /ws/runs/{run}"));
    if (!hostAllowed(request))
        return reject(403, QStringLiteral("FORBIDDEN"), QStringLiteral("this server answers only to loopback host names"));
    if (!originAllowed(request))
        return reject(403, QStringLiteral("FORBIDDEN"),
                      QStringLiteral("origin %1 is not allowed (see --allow-origin)")
                          .arg(QString::fromLatin1(request.header("Origin"))));
    // RFC 6455 section 4.2.1: version 13 and a key of 16 random bytes in base64.
    if (request.header("Sec-WebSocket-Version").trimmed() != "13")
        return reject(426, QStringLiteral("INVALID_REQUEST"), QStringLiteral("only WebSocket version 13 is spoken"),
                      QByteArrayLiteral("Sec-WebSocket-Version: 13"));
    const QByteArray key = request.header("Sec-WebSocket-Key");
    if (!WsFrames::isValidKey(key))
        return reject(400, QStringLiteral("INVALID_REQUEST"), QStringLiteral("Sec-WebSocket-Key must be 16 bytes in base64"));
    if (request.minorVersion != 1)
        return reject(400, QStringLiteral("INVALID_REQUEST"), QStringLiteral("a WebSocket upgrade needs HTTP/1.1"));

    // No extension and no subprotocol is agreed: frames are plain, and permessage-deflate offers
    // are declined by leaving them unanswered.
    QByteArray answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: ";
    answer += WsFrames::acceptKey(key);
    answer += "\r\nServer: runwatch\r\n\r\n";
    socket->write(answer);
    // The socket reads in chunks from here on; the kernel holds the rest back.
    socket->setReadBufferSize(1024 * 1024);
    accept(socket, request);
}

void Endpoint::accept(QTcpSocket *socket, const HttpRequest &request)
{
    ++m_counters.wsAccepted;
    QString token = bearerToken(request.header("Authorization"));
    if (token.isEmpty())
        token = request.queryValue(QStringLiteral("token"));
    bool wrong = false;
    const Role role = roleFor(token, &wrong);
    const QString path = QString::fromUtf8(QByteArray::fromPercentEncoding(request.path));
    auto *client = new WsClient(socket, this, QStringLiteral("c%1").arg(++m_nextClientId), role, path, this);
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

bool Endpoint::parseAhead(WsClient *client, const QByteArray &text, const WsClient::ParseLimits &limits,
                          std::shared_ptr<WsClient::Incoming> out)
{
    // Bounded over all clients: past it the server thread parses, and while it does, no socket is
    // read, which is what holds fast producers back.
    constexpr qint64 MaxParsingAheadBytes = 64 * 1024 * 1024;
    const qint64 bytes = qint64(text.size());
    if (!m_parsePool || m_parsingAheadBytes + bytes > MaxParsingAheadBytes)
        return false;
    m_parsingAheadBytes += bytes;
    ++m_counters.parsedAhead;
    const quint64 serial = client->serial();
    m_parsePool->start([this, serial, text, limits, bytes, out = std::move(out)] {
        WsClient::parse(text, limits, out.get());
        QMetaObject::invokeMethod(
            this,
            [this, serial, bytes, out] {
                m_parsingAheadBytes -= bytes;
                out->ready = true;
                // The client may have gone meanwhile: a serial is never reused, a pointer might be.
                if (WsClient *client = m_bySerial.value(serial))
                    client->parsedAhead();
            },
            Qt::QueuedConnection);
    });
    return true;
}

void Endpoint::registerClient(WsClient *client)
{
    m_bySerial.insert(client->serial(), client);
}

void Endpoint::unregisterClient(WsClient *client)
{
    m_bySerial.remove(client->serial());
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
    auto *wait = new QTimer(this);
    QElapsedTimer *elapsed = new QElapsedTimer;
    elapsed->start();
    connect(wait, &QTimer::timeout, this, [this, wait, elapsed] {
        if (m_clients.isEmpty() || elapsed->elapsed() > 1500) {
            wait->stop();
            wait->deleteLater();
            delete elapsed;
            Q_EMIT shutdownDone();
        }
    });
    wait->start(10);
}

} // namespace Runwatch
