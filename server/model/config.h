#pragma once

#include <QHostAddress>
#include <QString>
#include <QStringList>

namespace Runwatch {

// Everything the server can be told; defaults are the documented ones (docs/protocol.md).
struct ServerConfig {
    QHostAddress bind = QHostAddress(QHostAddress::LocalHost);
    quint16 port = 7600;
    QString dataDir;
    QString token;        // producer/admin token
    QString viewerToken;  // read-only token

    qint64 maxMessageBytes = 16 * 1024 * 1024;   // one WebSocket message or HTTP body
    int maxEventsPerPublish = 10000;
    qint64 maxQueueBytes = 8 * 1024 * 1024;      // a subscriber's unsent bytes before it is cut loose
    int pingIntervalMs = 10000;                  // ping a client silent this long
    int keepaliveTimeoutMs = 25000;              // drop a client silent this long
    int handshakeTimeoutMs = 10000;              // request head / WebSocket handshake (and auth, where needed)
    int httpBodyTimeoutMs = 10000;               // the longest silence while a request body arrives
    int httpIdleTimeoutMs = 60000;               // idle keep-alive HTTP connection
    int httpWriteTimeoutMs = 30000;              // answers unsent this long without progress: dropped
    int maxHeaderBytes = 64 * 1024;
    int maxSubscriptionsPerClient = 256;
    qint64 maxEventsPerSecond = 100000;          // per producer (a WebSocket connection; HTTP: per address); 0: no limit
    qint64 maxBytesPerSecond = 64 * 1024 * 1024; // published bytes per producer; 0: no limit
    int maxRuns = 10000;                         // runs held; a publish that would start another is refused
    int maxMetricsPerRun = 10000;                // metric names in one run
    int maxStepsPerRun = 10000;                  // step ids in one run
    qint64 maxStringBytes = 1024 * 1024;         // one JSON string (as sent, escapes included)
    int parseThreads = -1;                       // threads that parse large WebSocket messages ahead; -1: one if there
                                                 // are two cores or more; 0: all on the server thread
    int maxConnections = 16384;                  // open TCP connections in total (HTTP and WebSocket)
    int maxConnectionsPerAddress = 4096;         // from one peer address
    qint64 memoryHistoryBytes = qint64(1) << 30; // history budget when there is no data dir
    qint64 recentPointsBytes = 32 * 1024 * 1024; // metric points held in memory (all series' tails)
    bool syncFull = false;                        // fsync every commit: survives power loss too
    int retainDays = 0;                           // finished runs older than this are deleted; 0 keeps all
    qint64 maxHistoryBytes = 0;                   // past this, the oldest finished runs go; 0: no cap
    QStringList allowedOrigins;                  // browser origins allowed besides the server's own
    QStringList followFiles;                     // JSON Lines files of events to tail
    QString tlsCertFile;                         // PEM certificate (chain): serve https and wss
    QString tlsKeyFile;                          // its PEM private key
};

enum class Role { None, Viewer, Producer, Admin };

QString roleName(Role role);
inline bool canRead(Role role) { return role != Role::None; }
inline bool canPublish(Role role) { return role == Role::Producer || role == Role::Admin; }
inline bool isAdmin(Role role) { return role == Role::Admin; }

} // namespace Runwatch
