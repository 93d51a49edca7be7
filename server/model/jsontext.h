#pragma once

#include "event.h"

#include <QByteArray>
#include <QJsonDocument>
#include <QString>

namespace Runwatch {
namespace Codec {

// JSON as text, under the event and envelope layers: parsing with the checks the server makes
// before QJsonDocument sees the text, and the escaping and number formatting envelopes are made of.

// Parses JSON text. Bare NaN, Infinity and -Infinity tokens (what Python's json module writes
// for non-finite floats) are read as the strings "NaN", "Infinity" and "-Infinity".
// Nesting deeper than maxDepth is refused (INVALID_JSON), and so is a string longer than
// maxStringBytes as sent (TOO_LARGE; 0: no limit): then the document is returned all the same,
// for the caller's error answer to carry the request's id.
QJsonDocument parseJson(const QByteArray &text, Error *error, int maxDepth = 64, qint64 maxStringBytes = 0);

// Appends the text as a JSON string, quotes included; jsonString returns it alone.
void appendJsonString(QByteArray &out, const QString &text);
QByteArray jsonString(const QString &text);

// The JSON form of a metric value: a number, or the string for a non-finite one.
QByteArray metricValueJson(double value);

// A non-negative decimal integer as a query parameter gives it ("since=", "limit="): digits only,
// any length; values beyond qint64 are clamped to its maximum. False for anything else.
bool parseCount(const QString &text, qint64 *out);

} // namespace Codec
} // namespace Runwatch
