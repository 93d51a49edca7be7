#pragma once

#include <QColor>
#include <QIcon>
#include <QString>

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

} // namespace Runwatch::Format
