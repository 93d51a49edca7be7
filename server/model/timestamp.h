#pragma once

#include "event.h"

#include <QJsonValue>
#include <QString>

namespace Runwatch {
namespace Codec {

// Times on the wire: RFC 3339 text in UTC with milliseconds ("2026-11-23T12:00:00.123Z"), as every
// envelope carries it, and what producers may send as an event's "ts".

// Writes the time as RFC 3339 UTC with milliseconds, for the years 0000 to 9999.
QString formatTimestamp(qint64 msSinceEpoch);
// Reads YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|+HH:MM|-HH:MM): digits beyond milliseconds are cut
// off, a leap second reads as second 59. False for anything else, and for a time that does not
// fall in the years 0000 to 9999 (UTC).
bool parseTimestamp(const QString &text, qint64 *msSinceEpoch);

// An event's "ts" as a producer sends it: an RFC 3339 string, or a number of seconds since the
// epoch (as Python's time.time() gives) or, above 1e11, of milliseconds; receivedMs when it is
// left out or null. INVALID_EVENT for anything else.
Error parseEventTime(const QJsonValue &ts, qint64 receivedMs, qint64 *msSinceEpoch);

} // namespace Codec
} // namespace Runwatch
