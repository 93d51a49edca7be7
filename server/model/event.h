#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QMetaType>
#include <QString>
#include <QVector>

namespace Runwatch {

// Error codes of the wire contract (docs/protocol.md), plus the few this server adds.
enum class ErrorCode {
    None,
    InvalidJson,
    InvalidEvent,
    UnknownOp,
    AuthRequired,
    AuthFailed,
    Forbidden,
    RateLimited,
    TooLarge,
    UnknownRun,
    UnknownMetric,
    InvalidRequest,
    StoreFailed,
    NotFound,
    MethodNotAllowed,
};

QString errorCodeName(ErrorCode code);
int httpStatusFor(ErrorCode code);

struct Error {
    Error() = default;
    Error(ErrorCode code_, const QString &message_, qint64 retryAfterMs_ = 0)
        : code(code_), message(message_), retryAfterMs(retryAfterMs_)
    {
    }
    ErrorCode code = ErrorCode::None;
    QString message;
    qint64 retryAfterMs = 0; // RATE_LIMITED: when the same request would be let through
    explicit operator bool() const { return code != ErrorCode::None; }
};

// Lifecycle events are the ones streamed on /ws/runs.
enum class EventKind : quint8 {
    Other,
    RunStarted,
    RunStatus,
    Progress,
    Metric,
    StepStarted,
    StepProgress,
    StepCompleted,
    StepFailed,
    Log,
    Token,
    Result,
    ErrorEvent,
    RunCompleted,
    RunFailed,
};

EventKind eventKindFor(const QString &type);
bool isLifecycle(EventKind kind);

// One accepted event, a value type that crosses threads in batches.
struct Event {
    qint64 seq = 0;
    qint64 tsMs = 0;      // milliseconds since the epoch, UTC
    EventKind kind = EventKind::Other;
    QString run;
    QString type;
    QString step;         // empty unless the producer named a step
    QString eid;          // the producer's own id for the event (exactly-once retries), or empty
    QJsonObject data;
    QByteArray dataJson;  // `data` as compact JSON when made ahead (off the server thread); used up by the envelope
    QByteArray envelope;  // the serialized envelope, made once and shared by every subscriber
};

using EventBatch = QVector<Event>;

} // namespace Runwatch

Q_DECLARE_METATYPE(Runwatch::Event)
Q_DECLARE_METATYPE(Runwatch::EventBatch)
