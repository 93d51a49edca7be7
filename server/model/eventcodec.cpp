#include "eventcodec.h"

#include "timestamp.h"

#include <QJsonArray>
#include <QStringList>
#include <QVarLengthArray>

#include <algorithm>
#include <cmath>
#include <limits>

namespace Runwatch {

EventKind eventKindFor(const QString &type)
{
    struct Entry { QLatin1String name; EventKind kind; };
    static const Entry table[] = {
        {QLatin1String("metric"), EventKind::Metric},
        {QLatin1String("progress"), EventKind::Progress},
        {QLatin1String("token"), EventKind::Token},
        {QLatin1String("log"), EventKind::Log},
        {QLatin1String("step_progress"), EventKind::StepProgress},
        {QLatin1String("step_started"), EventKind::StepStarted},
        {QLatin1String("step_completed"), EventKind::StepCompleted},
        {QLatin1String("step_failed"), EventKind::StepFailed},
        {QLatin1String("result"), EventKind::Result},
        {QLatin1String("error"), EventKind::ErrorEvent},
        {QLatin1String("run_started"), EventKind::RunStarted},
        {QLatin1String("run_status"), EventKind::RunStatus},
        {QLatin1String("run_completed"), EventKind::RunCompleted},
        {QLatin1String("run_failed"), EventKind::RunFailed},
    };
    for (const Entry &entry : table) {
        if (type == entry.name)
            return entry.kind;
    }
    return EventKind::Other;
}

namespace {

// Optimal string alignment distance (Levenshtein with transpositions), for short type names.
int editDistance(const QString &a, const QString &b)
{
    const qsizetype n = a.size(), m = b.size();
    QVarLengthArray<int, 96> prev2(m + 1), prev(m + 1), cur(m + 1);
    for (qsizetype j = 0; j <= m; ++j)
        prev[j] = int(j);
    for (qsizetype i = 1; i <= n; ++i) {
        cur[0] = int(i);
        for (qsizetype j = 1; j <= m; ++j) {
            const int cost = a.at(i - 1) == b.at(j - 1) ? 0 : 1;
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
            if (i > 1 && j > 1 && a.at(i - 1) == b.at(j - 2) && a.at(i - 2) == b.at(j - 1))
                cur[j] = std::min(cur[j], prev2[j - 2] + 1);
        }
        std::swap(prev2, prev);
        std::swap(prev, cur);
    }
    return prev[m];
}

} // namespace

QString Codec::suggestType(const QString &type)
{
    if (eventKindFor(type) != EventKind::Other || type.size() > 32)
        return QString();
    static const char *const known[] = {"metric", "progress", "token", "log", "step_progress", "step_started",
                                        "step_completed", "step_failed", "result", "error", "run_started",
                                        "run_status", "run_completed", "run_failed"};
    // Case and separators first: "Metric", "run-started", "RunStarted", "runstarted".
    QString folded = type.toLower();
    folded.remove(QLatin1Char('_')).remove(QLatin1Char('-')).remove(QLatin1Char('.')).remove(QLatin1Char(' '));
    QString best;
    int bestDistance = 3;
    for (const char *name : known) {
        const QString candidate = QLatin1String(name);
        if (QString(candidate).remove(QLatin1Char('_')) == folded)
            return candidate;
        // One slip ("metrics", "logs"); two only in long names ("run_complte"), so that short
        // custom types ("reset", "dog") are not taken for known ones.
        const int allowed = candidate.size() >= 8 ? 2 : 1;
        const int distance = editDistance(type.toLower(), candidate);
        if (distance <= allowed && distance < bestDistance) {
            best = candidate;
            bestDistance = distance;
        }
    }
    return best;
}

bool isLifecycle(EventKind kind)
{
    switch (kind) {
    case EventKind::RunStarted:
    case EventKind::RunStatus:
    case EventKind::Progress:
    case EventKind::RunCompleted:
    case EventKind::RunFailed:
        return true;
    default:
        return false;
    }
}

namespace Codec {

namespace {

bool isIdChar(QChar c)
{
    const ushort u = c.unicode();
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '.'
        || u == '_' || u == ':' || u == '-';
}

bool isValidId(const QString &id, int maxLength)
{
    if (id.isEmpty() || id.size() > maxLength)
        return false;
    for (QChar c : id) {
        if (!isIdChar(c))
            return false;
    }
    return true;
}

Error invalid(const QString &message)
{
    return Error{ErrorCode::InvalidEvent, message};
}

bool isNumber(const QJsonValue &value)
{
    return value.isDouble();
}

Error checkOptionalString(const QJsonObject &data, QLatin1String key, const QString &type)
{
    const QJsonValue value = data.value(key);
    if (!value.isUndefined() && !value.isNull() && !value.isString())
        return invalid(QStringLiteral("%1: data.%2 must be a string").arg(type, key));
    return {};
}

Error checkRequiredString(const QJsonObject &data, QLatin1String key, const QString &type)
{
    if (!data.value(key).isString())
        return invalid(QStringLiteral("%1: data.%2 (a string) is required").arg(type, key));
    return {};
}

Error checkOptionalNumber(const QJsonObject &data, QLatin1String key, const QString &type,
                          double min = -std::numeric_limits<double>::infinity(),
                          double max = std::numeric_limits<double>::infinity())
{
    const QJsonValue value = data.value(key);
    if (value.isUndefined() || value.isNull())
        return {};
    if (!isNumber(value))
        return invalid(QStringLiteral("%1: data.%2 must be a number").arg(type, key));
    const double v = value.toDouble();
    if (v < min || v > max)
        return invalid(QStringLiteral("%1: data.%2 must be between %3 and %4")
                           .arg(type, key, QString::number(min), QString::number(max)));
    return {};
}

// The values of a metric event: numbers (or the non-finite strings), objects of them nested
// (flattened into "outer/inner" names), and the top-level step.
Error checkMetricValues(const QJsonObject &data, const QString &prefix, int *values)
{
    for (auto it = data.constBegin(); it != data.constEnd(); ++it) {
        if (prefix.isEmpty() && it.key() == QLatin1String("step"))
            continue;
        const QString name = prefix + it.key();
        if (it.key().isEmpty() || name.size() > MaxMetricNameLength)
            return invalid(QStringLiteral("metric: a metric name must have 1 to %1 characters").arg(MaxMetricNameLength));
        if (it.value().isObject()) {
            if (Error e = checkMetricValues(it.value().toObject(), name + QLatin1Char('/'), values))
                return e;
            continue;
        }
        double v;
        if (!metricValue(it.value(), &v))
            return invalid(QStringLiteral("metric: data.%1 must be a number "
                                          "(or \"NaN\", \"Infinity\", \"-Infinity\")")
                               .arg(QString(name).replace(QLatin1Char('/'), QLatin1Char('.'))));
        ++*values;
    }
    return {};
}

Error validateData(EventKind kind, const QString &type, const QJsonObject &data, const QString &step)
{
    static const QStringList kinds = {QStringLiteral("training"), QStringLiteral("evaluation"),
                                      QStringLiteral("workflow"), QStringLiteral("plan"),
                                      QStringLiteral("chat"), QStringLiteral("other")};
    static const QStringList statuses = {QStringLiteral("pending"), QStringLiteral("running"),
                                         QStringLiteral("paused"), QStringLiteral("completed"),
                                         QStringLiteral("failed"), QStringLiteral("cancelled")};
    static const QStringList levels = {QStringLiteral("debug"), QStringLiteral("info"),
                                       QStringLiteral("warning"), QStringLiteral("error")};
    switch (kind) {
    case EventKind::RunStarted: {
        if (Error e = checkOptionalString(data, QLatin1String("name"), type))
            return e;
        const QJsonValue kindValue = data.value(QLatin1String("kind"));
        if (!kindValue.isUndefined() && !kindValue.isNull()
            && (!kindValue.isString() || !kinds.contains(kindValue.toString())))
            return invalid(QStringLiteral("run_started: data.kind must be one of %1")
                               .arg(kinds.join(QStringLiteral(", "))));
        const QJsonValue config = data.value(QLatin1String("config"));
        if (!config.isUndefined() && !config.isNull() && !config.isObject())
            return invalid(QStringLiteral("run_started: data.config must be an object"));
        const QJsonValue tags = data.value(QLatin1String("tags"));
        if (!tags.isUndefined() && !tags.isNull()) {
            if (!tags.isArray())
                return invalid(QStringLiteral("run_started: data.tags must be an array of strings"));
            for (const QJsonValue &tag : tags.toArray()) {
                if (!tag.isString())
                    return invalid(QStringLiteral("run_started: data.tags must be an array of strings"));
            }
        }
        if (Error e = checkOptionalNumber(data, QLatin1String("total_steps"), type, 0))
            return e;
        return checkOptionalNumber(data, QLatin1String("total_epochs"), type, 0);
    }
    case EventKind::RunStatus: {
        const QJsonValue status = data.value(QLatin1String("status"));
        if (!status.isString() || !statuses.contains(status.toString()))
            return invalid(QStringLiteral("run_status: data.status must be one of %1")
                               .arg(statuses.join(QStringLiteral(", "))));
        return checkOptionalString(data, QLatin1String("message"), type);
    }
    case EventKind::Progress: {
        if (!isNumber(data.value(QLatin1String("completed"))))
            return invalid(QStringLiteral("progress: data.completed (a number) is required"));
        if (data.value(QLatin1String("completed")).toDouble() < 0)
            return invalid(QStringLiteral("progress: data.completed must not be negative"));
        if (Error e = checkOptionalNumber(data, QLatin1String("total"), type, 0))
            return e;
        if (Error e = checkOptionalNumber(data, QLatin1String("epoch"), type, 0))
            return e;
        if (Error e = checkOptionalNumber(data, QLatin1String("total_epochs"), type, 0))
            return e;
        return checkOptionalNumber(data, QLatin1String("eta_s"), type, 0);
    }
    case EventKind::Metric: {
        const QJsonValue s = data.value(QLatin1String("step"));
        if (!s.isUndefined() && !s.isNull()) {
            const double d = s.toDouble(-1);
            if (!s.isDouble() || d < 0 || d != std::floor(d) || d > 9.0e15)
                return invalid(QStringLiteral("metric: data.step must be a non-negative integer"));
        }
        int values = 0;
        if (Error e = checkMetricValues(data, QString(), &values))
            return e;
        if (values == 0)
            return invalid(QStringLiteral("metric: data holds no metric value"));
        return {};
    }
    case EventKind::StepStarted:
    case EventKind::StepProgress:
    case EventKind::StepCompleted:
    case EventKind::StepFailed:
        if (step.isEmpty())
            return invalid(QStringLiteral("%1: the event's \"step\" (a step id) is required").arg(type));
        if (Error e = checkOptionalString(data, QLatin1String("name"), type))
            return e;
        if (Error e = checkOptionalString(data, QLatin1String("message"), type))
            return e;
        return checkOptionalNumber(data, QLatin1String("progress"), type, 0, 1);
    case EventKind::Log: {
        const QJsonValue level = data.value(QLatin1String("level"));
        if (!level.isUndefined() && (!level.isString() || !levels.contains(level.toString())))
            return invalid(QStringLiteral("log: data.level must be one of %1")
                               .arg(levels.join(QStringLiteral(", "))));
        return checkRequiredString(data, QLatin1String("message"), type);
    }
    case EventKind::Token:
        if (Error e = checkRequiredString(data, QLatin1String("text"), type))
            return e;
        return checkOptionalString(data, QLatin1String("stream"), type);
    case EventKind::ErrorEvent:
        return checkRequiredString(data, QLatin1String("message"), type);
    case EventKind::RunFailed:
        return checkOptionalString(data, QLatin1String("message"), type);
    case EventKind::Result:
    case EventKind::RunCompleted:
    case EventKind::Other:
        return {};
    }
    return {};
}

} // namespace

bool isValidRunId(const QString &run)
{
    return isValidId(run, MaxRunIdLength);
}

bool isValidStepId(const QString &step)
{
    // A lone surrogate has no UTF-8 form: the stored envelope would name another step.
    if (step.isEmpty() || step.size() > MaxStepIdLength || !QStringView(step).isValidUtf16())
        return false;
    for (QChar c : step) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return false;
    }
    return true;
}

bool isValidType(const QString &type)
{
    if (type.isEmpty() || type.size() > MaxTypeLength)
        return false;
    for (QChar c : type) {
        if (!isIdChar(c) && c != QLatin1Char('/'))
            return false;
    }
    return true;
}

bool metricValue(const QJsonValue &value, double *out)
{
    if (value.isDouble()) {
        *out = value.toDouble();
        return true;
    }
    if (value.isString()) {
        const QString s = value.toString();
        if (s == QLatin1String("NaN") || s == QLatin1String("nan")) {
            *out = std::numeric_limits<double>::quiet_NaN();
            return true;
        }
        if (s == QLatin1String("Infinity") || s == QLatin1String("inf")) {
            *out = std::numeric_limits<double>::infinity();
            return true;
        }
        if (s == QLatin1String("-Infinity") || s == QLatin1String("-inf")) {
            *out = -std::numeric_limits<double>::infinity();
            return true;
        }
    }
    return false;
}

Error parseEvent(const QJsonValue &value, qint64 receivedMs, Event *out)
{
    if (!value.isObject())
        return invalid(QStringLiteral("an event must be a JSON object {run, type, data}"));
    const QJsonObject object = value.toObject();

    const QJsonValue run = object.value(QLatin1String("run"));
    if (!run.isString() || !isValidRunId(run.toString()))
        return invalid(QStringLiteral("\"run\" must be 1 to %1 characters of A-Z a-z 0-9 . _ : -")
                           .arg(MaxRunIdLength));
    const QJsonValue type = object.value(QLatin1String("type"));
    if (!type.isString() || !isValidType(type.toString()))
        return invalid(QStringLiteral("\"type\" must be 1 to %1 characters of A-Z a-z 0-9 . _ : / -")
                           .arg(MaxTypeLength));
    // An event with nothing to say may leave data out ({"run": "x", "type": "run_completed"}).
    const QJsonValue data = object.value(QLatin1String("data"));
    if (!data.isObject() && !data.isUndefined() && !data.isNull())
        return invalid(QStringLiteral("\"data\" must be a JSON object (or left out)"));

    QString step;
    const QJsonValue stepValue = object.value(QLatin1String("step"));
    if (!stepValue.isUndefined() && !stepValue.isNull()) {
        if (stepValue.isString())
            step = stepValue.toString();
        else if (stepValue.isDouble() && stepValue.toDouble() == std::floor(stepValue.toDouble())
                 && std::fabs(stepValue.toDouble()) <= 9.0e15) // a whole number that fits qint64 exactly
            step = QString::number(qint64(stepValue.toDouble()));
        if (!isValidStepId(step))
            return invalid(QStringLiteral("\"step\" must be a step id of 1 to %1 printable characters")
                               .arg(MaxStepIdLength));
    }

    qint64 tsMs = 0;
    if (Error e = parseEventTime(object.value(QLatin1String("ts")), receivedMs, &tsMs))
        return e;

    const QString typeName = type.toString();
    const EventKind kind = eventKindFor(typeName);
    const QJsonObject dataObject = data.toObject();
    if (Error e = validateData(kind, typeName, dataObject, step))
        return e;

    out->run = run.toString();
    out->type = typeName;
    out->kind = kind;
    out->step = step;
    out->tsMs = tsMs;
    out->data = dataObject;
    out->eid.clear();
    const QJsonValue eid = object.value(QLatin1String("eid"));
    if (!eid.isUndefined() && !eid.isNull()) {
        if (!eid.isString() || !isValidStepId(eid.toString()))
            return invalid(QStringLiteral("\"eid\" must be a string of 1 to %1 printable characters").arg(MaxStepIdLength));
        out->eid = eid.toString();
    }
    return {};
}

} // namespace Codec
} // namespace Runwatch
