#pragma once

#include "event.h"

#include <QJsonObject>
#include <QJsonValue>
#include <QString>

namespace Runwatch {
namespace Codec {

// What a producer sends, checked: an event object validated into an Event, the ids and types it
// names, and the metric values of a metric event.

constexpr int MaxRunIdLength = 128;
constexpr int MaxTypeLength = 64;
constexpr int MaxStepIdLength = 128;

bool isValidRunId(const QString &run);
bool isValidStepId(const QString &step);
bool isValidType(const QString &type);

// Validates one event object as a producer sends it ({run, type, data, step?, ts?}) and fills
// everything of `out` except seq and envelope. receivedMs is used when the event has no ts.
Error parseEvent(const QJsonValue &value, qint64 receivedMs, Event *out);

// A metric value: a JSON number or one of the strings "NaN", "Infinity", "-Infinity".
bool metricValue(const QJsonValue &value, double *out);
// Longest metric name, after nested objects are flattened.
constexpr int MaxMetricNameLength = 256;
// Calls fn(name, value) for every metric value of a metric event's data, in key order: every key
// but the top-level "step", nested objects flattened into "outer/inner" names (what W&B users
// write: {"train": {"loss": 1.0}} is the metric "train/loss"). Values that are not metric values
// are skipped; validation refuses them before an event gets this far.
template<typename Fn>
void forEachMetric(const QJsonObject &data, Fn &&fn, const QString &prefix = QString())
{
    for (auto it = data.constBegin(); it != data.constEnd(); ++it) {
        if (prefix.isEmpty() && it.key() == QLatin1String("step"))
            continue;
        const QJsonValue value = it.value();
        if (value.isObject()) {
            forEachMetric(value.toObject(), fn, prefix + it.key() + QLatin1Char('/'));
            continue;
        }
        double v;
        if (metricValue(value, &v))
            fn(prefix.isEmpty() ? it.key() : prefix + it.key(), v);
    }
}

// How many metric values forEachMetric would visit, at most (nested objects counted by their keys).
inline int metricCount(const QJsonObject &data)
{
    int count = 0;
    for (auto it = data.constBegin(); it != data.constEnd(); ++it)
        count += it.value().isObject() ? metricCount(it.value().toObject()) : 1;
    return count;
}

// For a type the server does not know, the known type it was most likely meant to be ("metrics":
// "metric"); empty when it looks like a deliberate custom type.
QString suggestType(const QString &type);

} // namespace Codec
} // namespace Runwatch
