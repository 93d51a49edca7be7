#pragma once

#include "event.h"

#include <QByteArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QVector>

namespace Runwatch {
namespace Codec {

// What the server writes for consumers: the envelope of every accepted event, the frames that
// carry envelopes and errors, and reading an envelope back from the store.

// Writes the envelope {"seq","run","type","step"?,"ts","data"} into event->envelope.
void serializeEnvelope(Event *event);

// Reads back an envelope this server wrote (from the store): fills every field of `out`,
// envelope included. False when the bytes are not such an envelope.
bool parseEnvelope(const QByteArray &json, Event *out);

// A batch frame {"type":"batch","events":[...]} from serialized envelopes.
QByteArray batchFrame(const QVector<QByteArray> &envelopes);

QByteArray errorFrame(const Error &error, const QJsonValue &id = QJsonValue());
QByteArray compact(const QJsonObject &object);
QByteArray compact(const QJsonArray &array);

} // namespace Codec
} // namespace Runwatch
