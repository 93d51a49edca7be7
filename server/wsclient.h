#pragma once

#include "config.h"
#include "hub.h"
#include "ratelimit.h"

#include <QJsonObject>
#include <QObject>
#include <QPointer>

#include <deque>
#include <memory>

class QTcpSocket;
class QWebSocket;

namespace Runwatch {

class Endpoint;

// One WebSocket connection: speaks the ops of the contract and receives envelopes from the Hub.
class WsClient : public QObject, public Subscriber
{
    Q_OBJECT
public:
    // `raw` is the TCP (or TLS) socket under `socket`, when known: frames are written to it directly.
    WsClient(QWebSocket *socket, QTcpSocket *raw, Endpoint *endpoint, const QString &id, Role role, QObject *parent);
    ~WsClient() override;

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
    // Thread-safe: touches nothing but its arguments.
    static void parse(const QString &text, const ParseLimits &limits, Incoming *out);
    // Called on the server thread when a message parsed ahead is ready.
    void parsedAhead();
    quint64 serial() const { return m_serial; }

Q_SIGNALS:
    void finished(Runwatch::WsClient *client);

private:
    void onText(const QString &text);
    void handleInbox();
    void handleIncoming(Incoming &in);
    void onBinary(const QByteArray &data);
    void onDisconnected();
    void handleOp(const QJsonObject &op, Incoming *parsed = nullptr);
    void opAuth(const QJsonObject &op, const QJsonValue &id);
    void opSubscribe(const QJsonObject &op, const QJsonValue &id);
    void opUnsubscribe(const QJsonObject &op, const QJsonValue &id);
    void opPublish(const QJsonObject &op, const QJsonValue &id, Incoming *parsed);
    void touch();

    QPointer<QWebSocket> m_socket;
    QPointer<QTcpSocket> m_raw;
    Endpoint *m_endpoint;
    Hub *m_hub;
    QString m_id;
    Role m_role;
    QString m_peer;
    QString m_path;
    qint64 m_connectedMs;
    qint64 m_lastSeenMs;
    qint64 m_lastPingMs = 0;
    qint64 m_defaultSince = 0;
    bool m_closing = false;
    bool m_disconnected = false;
    bool m_finished = false;
    qint64 m_messageBytes = 0; // of the message being handled
    ProducerLimiter m_limiter;
    quint64 m_serial;
    std::deque<std::shared_ptr<Incoming>> m_inbox; // received, not yet handled, oldest first
    int m_parsingAhead = 0;                        // of them, on a parse thread now
    bool m_draining = false;
};

} // namespace Runwatch
