#pragma once

#include <QSet>
#include <QtGlobal>

namespace Runwatch {

class WsClient;

struct EndpointCounters {
    qint64 httpRequests = 0;
    qint64 wsAccepted = 0;
    qint64 keepaliveDropped = 0;
    qint64 connectionsRefused = 0;
    qint64 rejectedHandshakes = 0;
    qint64 parsedAhead = 0; // WebSocket messages parsed on a parse thread
};

// What the REST API reports about the server's connections (/healthz, /metrics, /api/clients).
class ServerStatus
{
public:
    virtual ~ServerStatus() = default;
    virtual const QSet<WsClient *> &clients() const = 0;
    virtual int httpConnections() const = 0;
    // Open TCP connections, whatever they carry (what the connection limits count).
    virtual int openConnections() const = 0;
    virtual EndpointCounters counters() const = 0;
    virtual qint64 uptimeMs() const = 0;
};

} // namespace Runwatch
