#include "wsclient.h"

#include "codec.h"
#include "accesspolicy.h"
#include "parsepool.h"

#include <QDateTime>
#include <QJsonArray>
#include <QTcpSocket>
#include <QTimer>
#include <QUrlQuery>

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
constexpr qsizetype ParseAheadBytes = 2048;
// Messages of one client on parse threads at once; past it the server thread parses (and the
// client's socket waits meanwhile).
constexpr int MaxParsingAhead = 8;

} // namespace

WsClient::WsClient(QTcpSocket *socket, const WsContext &context, const QString &id, Role role, const QString &path, QObject *parent)
    : QObject(parent)
    , m_socket(socket)
    , m_reader(context.config->maxMessageBytes)
    , m_context(context)
    , m_hub(context.hub)
    , m_id(id)
    , m_role(role)
    , m_path(path)
    , m_connectedMs(nowMs())
    , m_lastSeenMs(m_connectedMs)
    , m_limiter(context.config->maxEventsPerSecond, context.config->maxBytesPerSecond,
                context.config->maxEventsPerPublish, context.config->maxMessageBytes)
{
    socket->setParent(this);
    const QHostAddress address = socket->peerAddress();
    m_peer = (address.protocol() == QAbstractSocket::IPv6Protocol
                  ? QLatin1Char('[') + address.toString() + QLatin1Char(']')
                  : address.toString())
        + QLatin1Char(':') + QString::number(socket->peerPort());
    if (authRequired()) {
        // Until it authenticates, a peer gets little: small messages and a deadline, so that
        // anyone who can reach the port cannot hold large buffers or connections for free.
        m_reader.setMaxMessageBytes(qMin(PreAuthMaxMessageBytes, context.config->maxMessageBytes));
        m_authDeadlineMs = m_connectedMs + context.config->handshakeTimeoutMs;
    }
    connect(socket, &QTcpSocket::readyRead, this, &WsClient::onReadyRead);
    connect(socket, &QTcpSocket::disconnected, this, &WsClient::onDisconnected);
    connect(socket, &QTcpSocket::bytesWritten, this, [this] { m_hub->drained(this); });
    if (socket->state() != QAbstractSocket::ConnectedState)
        QMetaObject::invokeMethod(this, &WsClient::onDisconnected, Qt::QueuedConnection);
    else if (socket->bytesAvailable() > 0) // frames sent right behind the handshake
        QMetaObject::invokeMethod(this, &WsClient::onReadyRead, Qt::QueuedConnection);
}

WsClient::~WsClient()
{
    m_hub->removeSubscriber(this);
}

bool WsClient::authRequired() const
{
    return m_role == Role::None && !m_context.access->isOpen();
}

void WsClient::touch()
{
    m_lastSeenMs = nowMs();
    m_lastPingMs = 0;
}

void WsClient::onReadyRead()
{
    // In pieces, so that one connection's flood does not hold the thread for long; what is left
    // is read when its turn comes again.
    constexpr qint64 Chunk = 256 * 1024;
    for (int i = 0; i < 16 && m_socket && m_socket->bytesAvailable() > 0 && !m_reader.failed(); ++i)
        received(m_socket->read(Chunk));
    if (m_socket && m_socket->bytesAvailable() > 0 && !m_reader.failed())
        QMetaObject::invokeMethod(this, &WsClient::onReadyRead, Qt::QueuedConnection);
}

void WsClient::received(const QByteArray &bytes)
{
    m_reader.feed(bytes);
    WsFrames::Reader::Message message;
    while (m_reader.next(&message)) {
        using Kind = WsFrames::Reader::Message::Kind;
        switch (message.kind) {
        case Kind::Text:
            touch();
            onText(message.payload);
            break;
        case Kind::Binary:
            touch();
            sendError(Error{ErrorCode::InvalidJson, QStringLiteral("binary frames are not accepted: send JSON as text frames")});
            break;
        case Kind::Ping:
            touch();
            if (!m_closing)
                write(WsFrames::frameHeader(WsFrames::Pong, quint64(message.payload.size())), message.payload);
            break;
        case Kind::Pong:
            // Only the answer to our own ping is a sign of life: unsolicited pongs cost the peer
            // nothing and would keep any connection open forever.
            if (!m_pingPayload.isEmpty() && message.payload == m_pingPayload) {
                m_pingPayload.clear();
                touch();
            }
            break;
        case Kind::Close:
            m_closeReceived = true;
            if (!m_closing) {
                // The peer ends the connection: answer with its code (RFC 6455 section 5.5.1),
                // then close the TCP connection, which the server does first.
                m_hub->removeSubscriber(this);
                sendClose(message.closeCode ? message.closeCode : quint16(WsFrames::CloseNormal), QString());
            }
            if (m_socket)
                m_socket->disconnectFromHost();
            return;
        case Kind::Error:
            closeWith(message.closeCode, message.error);
            return;
        case Kind::None:
            break;
        }
        if (!m_socket)
            return;
    }
}

void WsClient::write(const QByteArray &header, const QByteArray &payload, bool control)
{
    // Once cut loose, only the close frame still goes out.
    if (!m_socket || (m_overQueued && !control) || m_socket->state() != QAbstractSocket::ConnectedState)
        return;
    m_socket->write(header);
    m_socket->write(payload);
    // Every byte queued for the client counts: events, acks, errors and pongs alike. Past the bound
    // the client is cut loose as a slow subscriber is (it resumes with since=); the close goes out
    // from the event loop, never from inside a delivery.
    const qint64 bound = m_context.config->maxQueueBytes;
    if (bound > 0 && !m_overQueued && m_socket->bytesToWrite() > bound) {
        m_overQueued = true;
        QMetaObject::invokeMethod(
            this,
            [this, bound] {
                if (m_closing)
                    return; // the Hub cut it already
                m_hub->countLaggingDropped();
                closeWith(Hub::CloseLagging, QStringLiteral("lagging: more than %1 bytes unsent").arg(bound));
            },
            Qt::QueuedConnection);
    }
}

void WsClient::sendFrame(const QByteArray &utf8)
{
    if (m_closing)
        return;
    // A text frame written straight to the connection: the envelope is UTF-8 already, and every
    // subscriber writes the same bytes.
    write(WsFrames::frameHeader(WsFrames::Text, quint64(utf8.size())), utf8);
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

void WsClient::sendClose(quint16 code, const QString &reason)
{
    const QByteArray close = WsFrames::closeFrame(code, reason);
    write(close.left(2), close.mid(2), true);
    m_closing = true;
}

void WsClient::closeWith(int code, const QString &reason)
{
    if (!m_socket || m_closing)
        return;
    m_hub->removeSubscriber(this);
    sendClose(quint16(code), reason);
    if (m_closeReceived) {
        m_socket->disconnectFromHost();
        return;
    }
    // The peer answers with its own close frame; one that never does is not waited for.
    m_closeTimer = new QTimer(this);
    m_closeTimer->setSingleShot(true);
    connect(m_closeTimer, &QTimer::timeout, this, [this] {
        if (m_socket)
            m_socket->abort();
    });
    m_closeTimer->start(2000);
}

void WsClient::cutLoose(int closeCode, const QString &reason)
{
    closeWith(closeCode, reason);
}

bool WsClient::keepalive(qint64 now)
{
    // A connection can end without the socket saying so (when the peer was gone before this client
    // was made): such a client is finished here, so that nothing stays behind.
    if (!m_socket || m_socket->state() == QAbstractSocket::UnconnectedState) {
        onDisconnected();
        return true;
    }
    if (m_closing)
        return true;
    const ServerConfig &config = *m_context.config;
    if (m_authDeadlineMs > 0 && now >= m_authDeadlineMs && m_role == Role::None) {
        sendError(Error{ErrorCode::AuthRequired, QStringLiteral("no auth within %1 s: send {\"op\":\"auth\",\"token\":…} first")
                                                     .arg(config.handshakeTimeoutMs / 1000.0)});
        closeWith(4401, QStringLiteral("AUTH_REQUIRED"));
        return true;
    }
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
        m_pingPayload = QByteArray::number(now);
        write(WsFrames::frameHeader(WsFrames::Ping, quint64(m_pingPayload.size())), m_pingPayload);
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

void WsClient::parse(const QByteArray &utf8, const ParseLimits &limits, Incoming *out)
{
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

void WsClient::onText(const QByteArray &utf8)
{
    if (m_closing)
        return;
    const ServerConfig &config = *m_context.config;
    auto incoming = std::make_shared<Incoming>();
    m_inbox.push_back(incoming);
    if (utf8.size() >= ParseAheadBytes && m_parsingAhead < MaxParsingAhead && m_context.parser) {
        const ParseLimits limits{config.maxStringBytes, config.maxEventsPerPublish, true};
        const bool taken = m_context.parser->submit(
            this, utf8.size(), [utf8, limits, incoming] { parse(utf8, limits, incoming.get()); },
            [this, incoming] {
                incoming->ready = true;
                parsedAhead();
            });
        if (taken) {
            ++m_parsingAhead;
            return;
        }
    }
    // Small messages (and every message when parse threads are off or busy with this client's)
    // are parsed here; events are then parsed as part of the publish.
    parse(utf8, ParseLimits{config.maxStringBytes, config.maxEventsPerPublish, false}, incoming.get());
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
        if (++m_failedAuth >= MaxFailedAuth)
            closeWith(4401, QStringLiteral("AUTH_FAILED: too many wrong tokens"));
        return;
    }
    bool wrong = false;
    const Role role = m_context.access->roleFor(token.toString(), &wrong);
    if (wrong || role == Role::None) {
        sendError(Error{ErrorCode::AuthFailed, QStringLiteral("wrong token")}, id);
        // Guessing costs a connection every few tries.
        if (++m_failedAuth >= MaxFailedAuth)
            closeWith(4401, QStringLiteral("AUTH_FAILED: too many wrong tokens"));
        return;
    }
    m_role = role;
    m_authDeadlineMs = 0;
    m_reader.setMaxMessageBytes(m_context.config->maxMessageBytes);
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
    if (!known && m_hub->subscriptionsOf(this).size() >= m_context.config->maxSubscriptionsPerClient) {
        sendError(Error{ErrorCode::TooLarge, QStringLiteral("at most %1 subscriptions per connection").arg(m_context.config->maxSubscriptionsPerClient)}, id);
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
        const ServerConfig &config = *m_context.config;
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
