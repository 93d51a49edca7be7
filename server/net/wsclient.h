#pragma once

#include "config.h"
#include "hub.h"
#include "ratelimit.h"
#include "wsframes.h"

#include <QJsonObject>
#include <QObject>
#include <QPointer>

#include <deque>
#include <memory>

class QTcpSocket;
class QTimer;

namespace Runwatch {

class AccessPolicy;
class ParsePool;

// What a connection needs of the server around it, and nothing more.
struct WsContext {
    const ServerConfig *config = nullptr;
    Hub *hub = nullptr;
    const AccessPolicy *access = nullptr;
    ParsePool *parser = nullptr; // may be null: then every message is parsed on the server thread
};

// One WebSocket connection after its upgrade: reads the client's frames from the TCP (or TLS)
// socket and writes its own to it (WsFrames), speaks the ops of the contract and receives
// envelopes from the Hub. Owns the socket.
class WsClient : public QObject, public Subscriber
{
    Q_OBJECT
public:
    // `socket` is connected and past the handshake; `path` and `peer` describe it for /api/clients.
    WsClient(QTcpSocket *socket, const WsContext &context, const QString &id, Role role, const QString &path, QObject *parent);
    ~WsClient() override;

    // Bytes of the connection as they arrive (from the socket; a fuzz target feeds them directly).
    void received(const QByteArray &bytes);

    // A peer that has not authenticated on a server that needs a token may send only this much
    // in one message, and must authenticate within the handshake time (config handshakeTimeoutMs).
    static constexpr qint64 PreAuthMaxMessageBytes = 64 * 1024;
    // Wrong tokens in auth ops before the connection is closed (4401).
    static constexpr int MaxFailedAuth = 5;

    // Subscriber
    void sendFrame(const QByteArray &utf8) override;
    qint64 queuedBytes() const override;
    void cutLoose(int closeCode, const QString &reason) override;

    void sendJson(const QJsonObject &object);
    void sendError(const Error &error, const QJsonValue &id = QJsonValue());
    void closeWith(int code, const QString &reason);

    // Default replay for subscribe ops: -1 live only, otherwise replay after this seq.
    void setDefaultSince(qint64 since) { m_defaultSince = since; }

    // Pings when silent for pingIntervalMs, drops when silent for keepaliveTimeoutMs.
    // Returns false when the client was dropped.
    bool keepalive(qint64 nowMs);

    QString id() const { return m_id; }
    Role role() const { return m_role; }
    QJsonObject describe() const;

    // A received message, parsed on the server thread or ahead on a parse thread. Messages are
    // handled strictly in the order they came, whichever finished parsing first.
    struct Incoming {
        qint64 bytes = 0;       // its UTF-8 size
        Error error;            // not a JSON object: answered with this (and errorId)
        QJsonValue errorId;
        QJsonObject op;
        bool eventsParsed = false; // a publish whose events were parsed too (into batch or batchError)
        EventBatch batch;
        Error batchError;
        bool ready = false;     // set on the server thread once parsed
    };
    struct ParseLimits {
        qint64 maxStringBytes;
        int maxEventsPerPublish;
        bool events; // parse a publish's events too
    };
    // Thread-safe: touches nothing but its arguments. `utf8` is a whole text message.
    static void parse(const QByteArray &utf8, const ParseLimits &limits, Incoming *out);

Q_SIGNALS:
    void finished(Runwatch::WsClient *client);

private:
    void onReadyRead();
    void onText(const QByteArray &utf8);
    void parsedAhead();
    void handleInbox();
    void handleIncoming(Incoming &in);
    void onDisconnected();
    // Writes one frame, counted against the queue bound (config maxQueueBytes): a client that does
    // not read its answers is cut loose like a slow subscriber.
    void write(const QByteArray &header, const QByteArray &payload, bool control = false);
    void sendClose(quint16 code, const QString &reason);
    void handleOp(const QJsonObject &op, Incoming *parsed = nullptr);
    void opAuth(const QJsonObject &op, const QJsonValue &id);
    void opSubscribe(const QJsonObject &op, const QJsonValue &id);
    void opUnsubscribe(const QJsonObject &op, const QJsonValue &id);
    void opPublish(const QJsonObject &op, const QJsonValue &id, Incoming *parsed);
    void touch();
    bool authRequired() const;

    QPointer<QTcpSocket> m_socket;
    WsFrames::Reader m_reader;
    WsContext m_context;
    Hub *m_hub;
    QString m_id;
    Role m_role;
    QString m_peer;
    QString m_path;
    qint64 m_connectedMs;
    qint64 m_lastSeenMs;
    qint64 m_lastPingMs = 0;
    QByteArray m_pingPayload;   // of the last ping sent: only its pong counts as a sign of life
    qint64 m_authDeadlineMs = 0; // while unauthenticated on a server that needs a token
    int m_failedAuth = 0;
    qint64 m_defaultSince = 0;
    bool m_closing = false;     // a close frame was sent (or the connection failed): nothing more is sent
    bool m_closeReceived = false;
    bool m_overQueued = false;  // cut loose for not reading; the close is on its way
    bool m_disconnected = false;
    bool m_finished = false;
    QTimer *m_closeTimer = nullptr;
    qint64 m_messageBytes = 0; // of the message being handled
    ProducerLimiter m_limiter;
    std::deque<std::shared_ptr<Incoming>> m_inbox; // received, not yet handled, oldest first
    int m_parsingAhead = 0;                        // of them, on a parse thread now
    bool m_draining = false;
};

} // namespace Runwatch
