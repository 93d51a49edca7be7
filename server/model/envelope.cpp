#include "envelope.h"

#include "jsontext.h"
#include "timestamp.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <limits>
#include <utility>

namespace Runwatch {

QString errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::None: return QString();
    case ErrorCode::InvalidJson: return QStringLiteral("INVALID_JSON");
    case ErrorCode::InvalidEvent: return QStringLiteral("INVALID_EVENT");
    case ErrorCode::UnknownOp: return QStringLiteral("UNKNOWN_OP");
    case ErrorCode::AuthRequired: return QStringLiteral("AUTH_REQUIRED");
    case ErrorCode::AuthFailed: return QStringLiteral("AUTH_FAILED");
    case ErrorCode::Forbidden: return QStringLiteral("FORBIDDEN");
    case ErrorCode::RateLimited: return QStringLiteral("RATE_LIMITED");
    case ErrorCode::TooLarge: return QStringLiteral("TOO_LARGE");
    case ErrorCode::UnknownRun: return QStringLiteral("UNKNOWN_RUN");
    case ErrorCode::UnknownMetric: return QStringLiteral("UNKNOWN_METRIC");
    case ErrorCode::InvalidRequest: return QStringLiteral("INVALID_REQUEST");
    case ErrorCode::StoreFailed: return QStringLiteral("STORE_FAILED");
    case ErrorCode::NotFound: return QStringLiteral("NOT_FOUND");
    case ErrorCode::MethodNotAllowed: return QStringLiteral("METHOD_NOT_ALLOWED");
    }
    return QString();
}

int httpStatusFor(ErrorCode code)
{
    switch (code) {
    case ErrorCode::None: return 200;
    case ErrorCode::InvalidJson:
    case ErrorCode::InvalidEvent:
    case ErrorCode::UnknownOp:
    case ErrorCode::InvalidRequest: return 400;
    case ErrorCode::AuthRequired:
    case ErrorCode::AuthFailed: return 401;
    case ErrorCode::Forbidden: return 403;
    case ErrorCode::RateLimited: return 429;
    case ErrorCode::TooLarge: return 413;
    case ErrorCode::UnknownRun:
    case ErrorCode::UnknownMetric:
    case ErrorCode::NotFound: return 404;
    case ErrorCode::MethodNotAllowed: return 405;
    case ErrorCode::StoreFailed: return 503;
    }
    return 500;
}

namespace Codec {

// Written by hand rather than as a QJsonObject through QJsonDocument: once per accepted event, on
// the server thread. bench/codecbench.cpp, rows "envelope": Codec::serializeEnvelope against
// QJsonDocument(object).toJson of the same envelope.
void serializeEnvelope(Event *event)
{
    const QByteArray data = event->dataJson.isEmpty() ? QJsonDocument(event->data).toJson(QJsonDocument::Compact)
                                                      : std::exchange(event->dataJson, QByteArray());
    QByteArray out;
    out.reserve(data.size() + event->run.size() + event->type.size() + event->step.size() + 96);
    out.append("{\"seq\":");
    out.append(QByteArray::number(event->seq));
    out.append(",\"run\":");
    appendJsonString(out, event->run);
    out.append(",\"type\":");
    appendJsonString(out, event->type);
    if (!event->step.isEmpty()) {
        out.append(",\"step\":");
        appendJsonString(out, event->step);
    }
    out.append(",\"ts\":\"");
    // The events of one publish mostly share their time: format it once.
    thread_local qint64 lastMs = std::numeric_limits<qint64>::min();
    thread_local QByteArray lastText;
    if (event->tsMs != lastMs) {
        lastText = formatTimestamp(event->tsMs).toLatin1();
        lastMs = event->tsMs;
    }
    out.append(lastText);
    out.append("\",\"data\":");
    out.append(data);
    out.append('}');
    event->envelope = out;
}

bool parseEnvelope(const QByteArray &json, Event *out)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(json, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        return false;
    const QJsonObject object = doc.object();
    const QJsonValue seq = object.value(QLatin1String("seq"));
    const QJsonValue run = object.value(QLatin1String("run"));
    const QJsonValue type = object.value(QLatin1String("type"));
    qint64 tsMs = 0;
    // seq: what this server assigns, at most 9e15; far beyond, converting to qint64 is undefined.
    if (!seq.isDouble() || !(seq.toDouble() >= 0 && seq.toDouble() <= 9.0e15) || !run.isString() || !type.isString()
        || !parseTimestamp(object.value(QLatin1String("ts")).toString(), &tsMs))
        return false;
    out->seq = qint64(seq.toDouble());
    out->run = run.toString();
    out->type = type.toString();
    out->kind = eventKindFor(out->type);
    out->step = object.value(QLatin1String("step")).toString();
    out->tsMs = tsMs;
    out->data = object.value(QLatin1String("data")).toObject();
    out->envelope = json;
    return true;
}

QByteArray batchFrame(const QVector<QByteArray> &envelopes)
{
    qsizetype size = 32;
    for (const QByteArray &e : envelopes)
        size += e.size() + 1;
    QByteArray out;
    out.reserve(size);
    out.append("{\"type\":\"batch\",\"events\":[");
    for (qsizetype i = 0; i < envelopes.size(); ++i) {
        if (i)
            out.append(',');
        out.append(envelopes.at(i));
    }
    out.append("]}");
    return out;
}

QByteArray errorFrame(const Error &error, const QJsonValue &id)
{
    QJsonObject object{{QStringLiteral("type"), QStringLiteral("error")},
                       {QStringLiteral("code"), errorCodeName(error.code)},
                       {QStringLiteral("message"), error.message}};
    if (!id.isUndefined() && !id.isNull())
        object.insert(QStringLiteral("id"), id);
    if (error.retryAfterMs > 0)
        object.insert(QStringLiteral("retry_after_ms"), double(error.retryAfterMs));
    return compact(object);
}

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QByteArray compact(const QJsonArray &array)
{
    return QJsonDocument(array).toJson(QJsonDocument::Compact);
}

} // namespace Codec
} // namespace Runwatch
