#include "timestamp.h"

#include <cmath>
#include <cstdio>

// Both directions are hand-written, not QDateTime: they run for every event (a producer's "ts",
// every envelope written and every one read back from the store). bench/codecbench.cpp, rows
// "timestamp parse" and "timestamp format", measures them beside QDateTime's Qt::ISODateWithMs.

namespace Runwatch {
namespace Codec {

namespace {

// Days since 1970-01-01 for a proleptic Gregorian date, and back.
qint64 daysFromCivil(qint64 y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const qint64 era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = unsigned(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + qint64(doe) - 719468;
}

void civilFromDays(qint64 z, qint64 *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const qint64 era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = unsigned(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = qint64(yoe) + era * 400 + (*m <= 2);
}

} // namespace

QString formatTimestamp(qint64 ms)
{
    qint64 days = ms / 86400000;
    qint64 rem = ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        --days;
    }
    qint64 y;
    unsigned m, d;
    civilFromDays(days, &y, &m, &d);
    const int hh = int(rem / 3600000);
    const int mm = int(rem / 60000 % 60);
    const int ss = int(rem / 1000 % 60);
    const int mss = int(rem % 1000);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<long long>(y),
                  m, d, hh, mm, ss, mss);
    return QString::fromLatin1(buf);
}

bool parseTimestamp(const QString &text, qint64 *msSinceEpoch)
{
    // YYYY-MM-DD[T ]HH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
    const QByteArray s = text.toLatin1();
    const qsizetype n = s.size();
    auto digits = [&](qsizetype at, int count, int *value) {
        if (at + count > n)
            return false;
        int v = 0;
        for (int i = 0; i < count; ++i) {
            const char c = s.at(at + i);
            if (c < '0' || c > '9')
                return false;
            v = v * 10 + (c - '0');
        }
        *value = v;
        return true;
    };
    int year, month, day, hour, minute, second;
    if (n < 20 || !digits(0, 4, &year) || s.at(4) != '-' || !digits(5, 2, &month) || s.at(7) != '-'
        || !digits(8, 2, &day) || (s.at(10) != 'T' && s.at(10) != 't' && s.at(10) != ' ')
        || !digits(11, 2, &hour) || s.at(13) != ':' || !digits(14, 2, &minute) || s.at(16) != ':'
        || !digits(17, 2, &second))
        return false;
    static const int daysIn[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60)
        return false;
    if (day < 1 || day > daysIn[month - 1] + (month == 2 && leap ? 1 : 0))
        return false;
    qsizetype i = 19;
    int millis = 0;
    if (i < n && s.at(i) == '.') {
        ++i;
        int scale = 100;
        const qsizetype start = i;
        while (i < n && s.at(i) >= '0' && s.at(i) <= '9') {
            millis += (s.at(i) - '0') * scale;
            scale /= 10;
            ++i;
        }
        if (i == start)
            return false;
    }
    int offsetMinutes = 0;
    if (i < n && (s.at(i) == 'Z' || s.at(i) == 'z')) {
        ++i;
    } else if (i < n && (s.at(i) == '+' || s.at(i) == '-')) {
        int oh, om;
        if (!digits(i + 1, 2, &oh) || i + 3 >= n || s.at(i + 3) != ':' || !digits(i + 4, 2, &om)
            || oh > 23 || om > 59)
            return false;
        offsetMinutes = (oh * 60 + om) * (s.at(i) == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    const qint64 days = daysFromCivil(year, unsigned(month), unsigned(day));
    const qint64 ms = ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60000LL
        + qMin(second, 59) * 1000LL + millis;
    // An offset can move the time out of the years 0000-9999 (UTC), which formatTimestamp cannot
    // write back as read: an envelope with it would not read back from the store.
    static const qint64 earliest = daysFromCivil(0, 1, 1) * 86400000LL;
    static const qint64 latest = daysFromCivil(10000, 1, 1) * 86400000LL - 1;
    if (ms < earliest || ms > latest)
        return false;
    *msSinceEpoch = ms;
    return true;
}

Error parseEventTime(const QJsonValue &ts, qint64 receivedMs, qint64 *msSinceEpoch)
{
    qint64 tsMs = receivedMs;
    if (ts.isString()) {
        if (!parseTimestamp(ts.toString(), &tsMs))
            return Error{ErrorCode::InvalidEvent, QStringLiteral("\"ts\" must be an RFC 3339 timestamp such as "
                                                                 "2026-11-23T12:00:00.123Z")};
    } else if (ts.isDouble()) {
        // Seconds since the epoch (as time.time() gives) or, above 1e11, milliseconds.
        const double t = ts.toDouble();
        if (!std::isfinite(t) || t < 0 || t > 1e14)
            return Error{ErrorCode::InvalidEvent, QStringLiteral("\"ts\" as a number must be seconds or milliseconds since 1970")};
        tsMs = t > 1e11 ? qint64(t) : qint64(std::llround(t * 1000.0));
    } else if (!ts.isUndefined() && !ts.isNull()) {
        return Error{ErrorCode::InvalidEvent, QStringLiteral("\"ts\" must be an RFC 3339 timestamp string")};
    }
    *msSinceEpoch = tsMs;
    return {};
}

} // namespace Codec
} // namespace Runwatch
