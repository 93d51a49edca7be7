#pragma once

#include <QColor>
#include <QIcon>
#include <QString>

namespace Runwatch {
class RunState;
}

namespace Runwatch::Format {

// "1h 02m", "3m 07s", "12s"; empty for negative values.
QString duration(double seconds);
// A metric value for people: NaN and ±Infinity spelled out, otherwise 4 significant digits.
QString metricValue(double value);
// Thousands grouped, as the locale does it.
QString count(qint64 value);
// A fraction 0..1 as a percentage in the user's locale ("6.5 %", "6,5 %").
QString percent(double fraction, int decimals);
QColor statusColor(const QString &status);
QIcon statusIcon(const QString &status);
// The translated name of a run status.
QString statusText(const QString &status);
// What a run's status cell says: its status, or "stopped early" for a run that completed short
// of its total (its progress then stays where it stopped).
QString runStatusText(const RunState &run);
// "stopped at 320,000 of 1,000,000" for a run that ended short of its total, else empty.
QString stoppedEarlyText(const RunState &run);
// The unit of a rate metric: samples_per_second -> "samples/s", tokens_per_second -> "tokens/s";
// "/s" for a rate that does not say of what (throughput).
QString rateUnit(const QString &metric);
// A rate with its unit: "1,180 samples/s" ("1,180/s" for the unit "/s").
QString rate(double perSecond, const QString &unit);

} // namespace Runwatch::Format
