#include "wsclient.h"

#include "codec.h"
#include "endpoint.h"

#include <QDateTime>
#include <QJsonArray>
#include <QTcpSocket>
#include <QTimer>
#include <QtEndian>
#include <QUrlQuery>
#include <QWebSocket>

#include <atomic>
#include <cmath>
#include <limits>

namespace Runwatch {

namespace {

qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

// What a publish op publishes: "events": [...] or "event": {...}. False when it has neither.
bool publishPayload(const QJsonObject &op, QJsonValue *payload)
{
    if (op.contains(QLatin1String("events"))) {
        *payload = op.value(QLatin1String("events"));
        return payload->isArray();
    }
    *payload = op.value(QLatin1String("event"));
    return payload->isObject();
}

// Messages shorter than this are parsed on the server thread: handing them over costs more.
constexpr qsizetype ParseAheadChars = 2048;
// Messages of one client on parse threads at once; past it the server thread parses (and the
// client's socket waits meanwhile).
constexpr int MaxParsingAhead = 8;

std::atomic<quint64> nextSerial{0};

} // namespace

WsClient::WsClient(QWebSocket *socket, QTcpSocket *raw, Endpoint *endpoint, const QString &id, Role role, QObject *parent)
    : QObject(parent)
    , m_socket(socket)
    , m_raw(raw)
    , m_endpoint(endpoint)
    , m_hub(endpoint->hub())
    , m_id(id)
    , m_role(role)
    , m_connectedMs(nowMs())
    , m_lastSeenMs(m_connectedMs)
    , m_limiter(endpoint->config().maxEventsPerSecond, endpoint->config().maxBytesPerSecond,
                endpoint->config().maxEventsPerPublish, endpoint->config().maxMessageBytes)
    , m_serial(++nextSerial)
{
    endpoint->registerClient(this);
    socket->setParent(this);
    const quint64 limit = quint64(endpoint->config().maxMessageBytes);
    socket->setMaxAllowedIncomingFrameSize(limit);
    socket->setMaxAllowedIncomingMessageSize(limit);
    const QHostAddress address = socket->peerAddress();
    m_peer = (address.protocol() == QAbstractSocket::IPv6Protocol
                  ? QLatin1Char('[') + address.toString() + QLatin1Char(']')
                  : address.toString())
        + QLatin1Char(':') + QString::number(socket->peerPort());
    m_path = socket->requestUrl().path();

    connect(socket, &QWebSocket::textMessageReceived, this, &WsClient::onText);
    connect(socket, &QWebSocket::binaryMessageReceived, this, &WsClient::onBinary);
    connect(socket, &QWebSocket::pong, this, [this] { touch(); });
    connect(socket, &QWebSocket::disconnected, this, &WsClient::onDisconnected);
    connect(socket, &QWebSocket::bytesWritten, this, [this] { m_hub->drained(this); });
    if (socket->state() == QAbstractSocket::UnconnectedState)
        QMetaObject::invokeMethod(this, &WsClient::onDisconnected, Qt::QueuedConnection);
}

WsClient::~WsClient()
{
    m_endpoint->unregisterClient(this);
    m_hub->removeSubscriber(this);
}

void WsClient::touch()
{
    m_lastSeenMs = nowMs();
    m_lastPingMs = 0;
}

void WsClient::sendFrame(const QByteArray &utf8)
{
    if (!m_socket || m_closing)
        return;
    // QWebSocket would take a QString and encode it to UTF-8 again for every subscriber. The frame
    // is written to the connection's socket directly instead: a server frame is a header and the
    // payload, unmasked and unfragmented (RFC 6455 5.2), and everything runs on this thread, so a
    // frame QWebSocket writes (pong, close) can never land inside one of these.
    if (m_raw && m_raw->state() == QAbstractSocket::ConnectedState) {
        char header[10];
        int size = 2;
        header[0] = char(0x81); // FIN, text
        const quint64 length = quint64(utf8.size());
        if (length < 126) {
            header[1] = char(length);
        } else if (length <= 0xffff) {
            header[1] = char(126);
            qToBigEndian(quint16(length), header + 2);
            size = 4;
        } else {
            header[1] = char(127);
            qToBigEndian(length, header + 2);
            size = 10;
        }
        m_raw->write(header, size);
        m_raw->write(utf8);
        return;
    }
    m_socket->sendTextMessage(QString::fromUtf8(utf8));
}

qint64 WsClient::queuedBytes() const
{
    return m_socket ? m_socket->bytesToWrite() : 0;
}

void WsClient::sendJson(const QJsonObject &object)
{
    sendFrame(Codec::compact(object));
}

void WsClient::sendError(const Error &error, const QJsonValue &id)
{
    sendFrame(Codec::errorFrame(error, id));
}

void WsClient::closeWith(int code, const QString &reason)
{
    if (!m_socket || m_closing)
        return;
    m_closing = true;
    m_hub->removeSubscriber(this);
    m_socket->close(QWebSocketProtocol::CloseCode(code), reason);
    // A peer that never answers the close handshake is not waited for.
    QPointer<QWebSocket> socket = m_socket;
    QTimer::singleShot(2000, this, [socket] {
        if (socket)
            socket->abort();
    });
}

void WsClient::cutLoose(int closeCode, const QString &reason)
{
    closeWith(closeCode, reason);
}

bool WsClient::keepalive(qint64 now)
{
    // A connection can end without QWebSocket saying so: when the peer was gone before the
    // QWebSocket was made (it then never sees the socket's disconnected), or when the socket was
    // freed under it. Such a client is finished here, so that nothing stays behind.
    if (!m_socket || m_socket->state() == QAbstractSocket::UnconnectedState) {
        onDisconnected();
        return true;
    }
    if (m_closing)
        return true;
    const ServerConfig &config = m_endpoint->config();
    const qint64 silent = now - m_lastSeenMs;
    if (config.keepaliveTimeoutMs > 0 && silent >= config.keepaliveTimeoutMs) {
        m_hub->removeSubscriber(this);
        m_closing = true;
        m_socket->abort();
        return false;
    }
    if (config.pingIntervalMs > 0 && silent >= config.pingIntervalMs
        && (m_lastPingMs == 0 || now - m_lastPingMs >= config.pingIntervalMs)) {
        m_lastPingMs = now;
        m_socket->ping(QByteArray::number(now));
    }
    return true;
}

QJsonObject WsClient::describe() const
{
    return QJsonObject{{QStringLiteral("id"), m_id},
                       {QStringLiteral("peer"), m_peer},
                       {QStringLiteral("path"), m_path},
                       {QStringLiteral("role"), roleName(m_role)},
                       {QStringLiteral("subscriptions"), QJsonArray::fromStringList(m_hub->subscriptionsOf(const_cast<WsClient *>(this)))},
                       {QStringLiteral("connected_at"), Codec::formatTimestamp(m_connectedMs)},
                       {QStringLiteral("queued_bytes"), double(queuedBytes())}};
}

void WsClient::onDisconnected()
{
    if (m_disconnected)
        return;
    m_disconnected = true;
    m_hub->removeSubscriber(this);
    // Messages that arrived before the peer went are still handled (their publishes stored) when
    // the ones parsed ahead are ready; only then is this client done.
    if (m_inbox.empty()) {
        m_finished = true;
        Q_EMIT finished(this);
    }
}

void WsClient::onBinary(const QByteArray &)
{
    touch();
    sendError(Error{ErrorCode::InvalidJson, QStringLiteral("binary frames are not accepted: send JSON as text frames")});
}

void WsClient::parse(const QString &text, const ParseLimits &limits, Incoming *out)
{
    const QByteArray utf8 = text.toUtf8();
    out->bytes = utf8.size();
    const QJsonDocument doc = Codec::parseJson(utf8, &out->error, 64, limits.maxStringBytes);
    if (out->error) {
        out->errorId = doc.isObject() ? doc.object().value(QLatin1String("id")) : QJsonValue();
        return;
    }
    if (!doc.isObject()) {
        out->error = Error{ErrorCode::InvalidJson, QStringLiteral("a frame must hold one JSON object")};
        return;
    }
    out->op = doc.object();
    QJsonValue payload;
    if (!limits.events || out->op.value(QLatin1String("op")) != QLatin1String("publish") || !publishPayload(out->op, &payload))
        return;
    // The events too, and their data as JSON for the envelope: all of it is work the server
    // thread need not do. Whether the client may publish at all is decided when it is handled.
    out->batchError = Hub::parseBatch(payload, limits.maxEventsPerPublish, nowMs(), &out->batch);
    if (!out->batchError) {
        for (Event &event : out->batch)
            event.dataJson = QJsonDocument(event.data).toJson(QJsonDocument::Compact);
    }
    out->eventsParsed = true;
}

void WsClient::onText(const QString &text)
{
    touch();
    if (m_closing)
        return;
    const ServerConfig &config = m_endpoint->config();
    auto incoming = std::make_shared<Incoming>();
    m_inbox.push_back(incoming);
    if (text.size() >= ParseAheadChars && m_parsingAhead < MaxParsingAhead
        && m_endpoint->parseAhead(this, text, ParseLimits{config.maxStringBytes, config.maxEventsPerPublish, true}, incoming)) {
        ++m_parsingAhead;
        return;
    }
    // Small messages (and every message when parse threads are off or busy with this client's)
    // are parsed here; events are then parsed as part of the publish.
    parse(text, ParseLimits{config.maxStringBytes, config.maxEventsPerPublish, false}, incoming.get());
    incoming->ready = true;
    handleInbox();
}

void WsClient::parsedAhead()
{
    --m_parsingAhead;
    handleInbox();
}

void WsClient::handleInbox()
{
    if (m_draining)
        return;
    m_draining = true;
    while (!m_inbox.empty() && m_inbox.front()->ready) {
        const std::shared_ptr<Incoming> in = std::move(m_inbox.front());
        m_inbox.pop_front();
        // Once the connection is closing or gone, what it sent before is still stored, as it was
        // when every message was handled on arrival; nothing else is done and no answer is sent.
        if (!m_closing && !m_disconnected)
            handleIncoming(*in);
        else if (!in->error && in->op.value(QLatin1String("op")) == QLatin1String("publish"))
            handleIncoming(*in);
    }
    m_draining = false;
    if (m_disconnected && !m_finished && m_inbox.empty()) {
        m_finished = true;
        Q_EMIT finished(this);
    }
}

void WsClient::handleIncoming(Incoming &in)
{
    m_messageBytes = in.bytes;
    if (in.error) {
        sendError(in.error, in.errorId);
        return;
    }
    handleOp(in.op, &in);
}

void WsClient::handleOp(const QJsonObject &op, Incoming *parsed)
{
    const QJsonValue id = op.value(QLatin1String("id"));
    const QJsonValue opValue = op.value(QLatin1String("op"));
    const QString name = opValue.toString();
    if (name == QLatin1String("publish"))
        opPublish(op, id, parsed);
    else if (name == QLatin1String("subscribe"))
        opSubscribe(op, id);
    else if (name == QLatin1String("unsubscribe"))
        opUnsubscribe(op, id);
    else if (name == QLatin1String("ping"))
        sendJson(QJsonObject{{QStringLiteral("type"), QStringLiteral("pong")}, {QStringLiteral("id"), id.isUndefined() ? QJsonValue() : id}});
    else if (name == QLatin1String("auth"))
        opAuth(op, id);
    else if (opValue.isUndefined())
        sendError(Error{ErrorCode::UnknownOp, QStringLiteral("a frame needs an \"op\": auth, subscribe, unsubscribe, publish or ping")}, id);
    else
        sendError(Error{ErrorCode::UnknownOp, QStringLiteral("unknown op \"%1\": expected auth, subscribe, unsubscribe, publish or ping").arg(name)}, id);
}

void WsClient::opAuth(const QJsonObject &op, const QJsonValue &id)
{
    const QJsonValue token = op.value(QLatin1String("token"));
    if (!token.isString()) {
        sendError(Error{ErrorCode::AuthFailed, QStringLiteral("auth needs a \"token\" string")}, id);
        return;
    }
    bool wrong = false;
    const Role role = m_endpoint->roleFor(token.toString(), &wrong);
    if (wrong || role == Role::None) {
        sendError(Error{ErrorCode::AuthFailed, QStringLiteral("wrong token")}, id);
        return;
    }
    m_role = role;
    QJsonObject ok{{QStringLiteral("type"), QStringLiteral("auth_ok")}, {QStringLiteral("role"), roleName(role)}};
    if (!id.isUndefined())
        ok.insert(QStringLiteral("id"), id);
    sendJson(ok);
}

void WsClient::opSubscribe(const QJsonObject &op, const QJsonValue &id)
{
    if (!canRead(m_role)) {
        sendError(Error{ErrorCode::AuthRequired, QStringLiteral("subscribe needs a token: send {\"op\":\"auth\",\"token\":…} first")}, id);
        return;
    }
    const QString run = op.value(QLatin1String("run")).toString();
    const bool all = run == QLatin1String("*");
    if (!all && !Codec::isValidRunId(run)) {
        sendError(Error{ErrorCode::InvalidRequest, QStringLiteral("subscribe needs \"run\": a run id or \"*\"")}, id);
        return;
    }
    qint64 since = m_defaultSince;
    const QJsonValue sinceValue = op.value(QLatin1String("since"));
    if (sinceValue.isDouble()) {
        // Any seq, also far above the last one (then there is nothing to replay: live only).
        const double value = sinceValue.toDouble();
        if (std::isnan(value)) {
            sendError(Error{ErrorCode::InvalidRequest, QStringLiteral("\"since\" must be a seq number")}, id);
            return;
        }
        since = value < 0 ? 0 : value >= 9.0e18 ? std::numeric_limits<qint64>::max() : qint64(value);
    } else if (!sinceValue.isUndefined() && !sinceValue.isNull()) {
        sendError(Error{ErrorCode::InvalidRequest, QStringLiteral("\"since\" must be a seq number")}, id);
        return;
    }
    const QJsonValue replay = op.value(QLatin1String("replay"));
    if (!sinceValue.isDouble() && ((replay.isBool() && !replay.toBool()) || (replay.isDouble() && replay.toDouble() == 0)))
        since = -1;
    const auto target = all ? Subscription::Target::All : Subscription::Target::Run;
    const bool known = m_hub->subscriptionsOf(this).contains(run);
    if (!known && m_hub->subscriptionsOf(this).size() >= m_endpoint->config().maxSubscriptionsPerClient) {
        sendError(Error{ErrorCode::TooLarge, QStringLiteral("at most %1 subscriptions per connection").arg(m_endpoint->config().maxSubscriptionsPerClient)}, id);
        return;
    }
    m_hub->subscribe(this, target, all ? QString() : run, since, true, id);
}

void WsClient::opUnsubscribe(const QJsonObject &op, const QJsonValue &id)
{
    const QString run = op.value(QLatin1String("run")).toString();
    const bool all = run == QLatin1String("*");
    if (!all && !Codec::isValidRunId(run)) {
        sendError(Error{ErrorCode::InvalidRequest, QStringLiteral("unsubscribe needs \"run\": a run id or \"*\"")}, id);
        return;
    }
    m_hub->unsubscribe(this, all ? Subscription::Target::All : Subscription::Target::Run, all ? QString() : run);
    QJsonObject answer{{QStringLiteral("type"), QStringLiteral("unsubscribed")}, {QStringLiteral("run"), run}};
    if (!id.isUndefined())
        answer.insert(QStringLiteral("id"), id);
    sendJson(answer);
}

void WsClient::opPublish(const QJsonObject &op, const QJsonValue &id, Incoming *parsed)
{
    if (!canPublish(m_role)) {
        if (m_role == Role::None)
            sendError(Error{ErrorCode::AuthRequired, QStringLiteral("publish needs a producer token")}, id);
        else
            sendError(Error{ErrorCode::Forbidden, QStringLiteral("a %1 token may not publish").arg(roleName(m_role))}, id);
        return;
    }
    QJsonValue payload;
    if (!publishPayload(op, &payload)) {
        sendError(Error{ErrorCode::InvalidRequest, QStringLiteral("publish needs \"event\": {…} or \"events\": […]")}, id);
        return;
    }
    const qint64 events = payload.isArray() ? payload.toArray().size() : 1;
    if (const qint64 waitMs = m_limiter.admit(events, m_messageBytes, monotonicNs())) {
        m_hub->countRateLimited();
        const ServerConfig &config = m_endpoint->config();
        sendError(Error{ErrorCode::RateLimited,
                        rateLimitedMessage(config.maxEventsPerSecond, config.maxBytesPerSecond, QStringLiteral("this producer"), waitMs),
                        waitMs},
                  id);
        return;
    }
    const PublishResult result = parsed && parsed->eventsParsed
        ? m_hub->publishParsed(std::move(parsed->batch), parsed->batchError)
        : m_hub->publishJson(payload);
    if (result.error) {
        sendError(result.error, id);
        return;
    }
    if (id.isUndefined() || id.isNull())
        return;
    // Written by hand: an ack per publish is on the hot path, and its seq list can be long.
    QByteArray ack = "{\"type\":\"ack\",\"id\":";
    ack += id.isString() ? Codec::jsonString(id.toString()) : Codec::compact(QJsonArray{id}).chopped(1).mid(1);
    ack += ",\"seq\":[";
    for (qsizetype i = 0; i < result.seqs.size(); ++i) {
        if (i)
            ack += ',';
        ack += QByteArray::number(result.seqs.at(i));
    }
    ack += ']';
    if (result.duplicates > 0)
        ack += ",\"duplicates\":" + QByteArray::number(result.duplicates);
    if (!result.warnings.isEmpty())
        ack += ",\"warnings\":" + Codec::compact(warningsJson(result.warnings));
    ack += '}';
    sendFrame(ack);
}

} // namespace Runwatch
