// Fuzz target: the JSON codec of the wire contract (server/model/codec.h). The input goes through every
// codec entry point: as JSON text (parseJson), as events (parseEvent: the document, each element of
// an array, the "event"/"events" of a publish op), as a stored envelope (parseEnvelope), as a
// timestamp and as a number. Whatever is accepted is written back and read again and must come back
// the same; a difference aborts, so the fuzzer reports logic errors as well as crashes.

#include "codec.h"
#include "fuzzsupport.h"

#include <QJsonArray>
#include <QJsonObject>

#include <cmath>

using namespace Runwatch;

namespace {

constexpr qint64 ReceivedMs = 1795435200123; // 2026-11-23T12:00:00.123Z
constexpr int MaxEvents = 64;               // events checked per input
constexpr int MaxValues = 2048;             // numbers and strings checked per input

bool sameDouble(double a, double b)
{
    if (std::isnan(a) || std::isnan(b))
        return std::isnan(a) && std::isnan(b);
    return a == b;
}

// One JSON value read strictly (Qt's parser alone, no codec leniency).
QJsonValue strictValue(const QByteArray &text)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson("[" + text + "]", &error);
    if (error.error != QJsonParseError::NoError || doc.array().size() != 1)
        return QJsonValue(QJsonValue::Undefined);
    return doc.array().at(0);
}

QByteArray describe(const Event &event)
{
    return "seq=" + QByteArray::number(event.seq) + " run=" + event.run.toUtf8() + " type=" + event.type.toUtf8()
        + " step=" + event.step.toUtf8() + " tsMs=" + QByteArray::number(event.tsMs)
        + " data=" + Codec::compact(event.data).left(1000) + "\nenvelope=" + event.envelope.left(1000);
}

void checkSameEvent(const Event &a, const Event &b, const char *what)
{
    const QByteArray detail = QByteArray(what) + "\nfirst:  " + describe(a) + "\nsecond: " + describe(b);
    FUZZ_CHECK(a.run == b.run, detail);
    FUZZ_CHECK(a.type == b.type, detail);
    FUZZ_CHECK(a.kind == b.kind, detail);
    FUZZ_CHECK(a.step == b.step, detail);
    FUZZ_CHECK(a.tsMs == b.tsMs, detail);
    FUZZ_CHECK(a.data == b.data, detail);
}

// An event the codec accepted: its envelope must be strict JSON, read back to the same event
// (what a restart does from the store), write the same bytes again, and be an event that parseEvent
// accepts as it is (what importing an export does).
void checkAcceptedEvent(const Event &accepted, qint64 seq)
{
    FUZZ_CHECK(Codec::isValidRunId(accepted.run), describe(accepted));
    FUZZ_CHECK(Codec::isValidType(accepted.type), describe(accepted));
    FUZZ_CHECK(accepted.step.isEmpty() || Codec::isValidStepId(accepted.step), describe(accepted));
    FUZZ_CHECK(accepted.kind == eventKindFor(accepted.type), describe(accepted));

    Event stored = accepted;
    stored.seq = seq;
    Codec::serializeEnvelope(&stored);
    QJsonParseError strictError{};
    const QJsonDocument envelope = QJsonDocument::fromJson(stored.envelope, &strictError);
    FUZZ_CHECK(strictError.error == QJsonParseError::NoError && envelope.isObject(), describe(stored));

    Event back;
    FUZZ_CHECK(Codec::parseEnvelope(stored.envelope, &back), describe(stored));
    FUZZ_CHECK(back.seq == stored.seq, describe(stored) + "\nback: " + describe(back));
    FUZZ_CHECK(back.envelope == stored.envelope, describe(stored));
    checkSameEvent(stored, back, "envelope read back differs from the accepted event");

    Event again = back;
    Codec::serializeEnvelope(&again);
    FUZZ_CHECK(again.envelope == stored.envelope, describe(stored) + "\nagain: " + describe(again));

    Event replayed;
    const Error error = Codec::parseEvent(envelope.object(), 0, &replayed);
    FUZZ_CHECK(!error, describe(stored) + "\nrefused: " + error.message.toUtf8());
    checkSameEvent(stored, replayed, "the envelope as an event differs from the accepted event");

    // One-event and several-event batch frames hold exactly the envelopes.
    const QByteArray batch = Codec::batchFrame({stored.envelope, stored.envelope});
    const QJsonDocument batchDoc = QJsonDocument::fromJson(batch, &strictError);
    FUZZ_CHECK(strictError.error == QJsonParseError::NoError, batch);
    const QJsonArray events = batchDoc.object().value(QLatin1String("events")).toArray();
    FUZZ_CHECK(events.size() == 2 && events.at(0).toObject() == envelope.object()
                   && batchDoc.object().value(QLatin1String("type")).toString() == QLatin1String("batch"),
               batch);
}

void checkEvent(const QJsonValue &value, qint64 seq)
{
    Event event;
    const Error error = Codec::parseEvent(value, ReceivedMs, &event);
    if (error) {
        FUZZ_CHECK(error.code == ErrorCode::InvalidEvent && !error.message.isEmpty(), error.message.toUtf8());
        const QByteArray frame = Codec::errorFrame(error, value.toObject().value(QLatin1String("id")));
        FUZZ_CHECK(!strictValue(frame).isUndefined(), frame);
        return;
    }
    checkAcceptedEvent(event, seq);
}

void checkTimestamp(const QString &text)
{
    qint64 ms = 0;
    if (!Codec::parseTimestamp(text, &ms))
        return;
    const QString written = Codec::formatTimestamp(ms);
    qint64 back = 0;
    FUZZ_CHECK(Codec::parseTimestamp(written, &back) && back == ms,
               text.toUtf8() + " -> " + QByteArray::number(ms) + " -> " + written.toUtf8());
}

void checkMetricValue(double value)
{
    const QByteArray json = Codec::metricValueJson(value);
    double back = 0;
    FUZZ_CHECK(Codec::metricValue(strictValue(json), &back) && sameDouble(value, back),
               QByteArray::number(value, 'g', 17) + " -> " + json);
}

void checkString(const QString &text)
{
    // A JSON string this codec writes reads back as the same text (for text that is valid UTF-16;
    // lone surrogates have no UTF-8 form).
    if (!QStringView(text).isValidUtf16())
        return;
    const QByteArray json = Codec::jsonString(text);
    FUZZ_CHECK(strictValue(json).toString() == text && strictValue(json).isString(), json);
}

// Every number and string of a document, keys included, up to a bound.
void walk(const QJsonValue &value, int *budget)
{
    if (--*budget < 0)
        return;
    if (value.isDouble()) {
        checkMetricValue(value.toDouble());
    } else if (value.isString()) {
        checkString(value.toString());
        if (value.toString().size() < 64)
            checkTimestamp(value.toString());
    } else if (value.isArray()) {
        for (const QJsonValue &element : value.toArray())
            walk(element, budget);
    } else if (value.isObject()) {
        const QJsonObject object = value.toObject();
        for (auto it = object.constBegin(); it != object.constEnd(); ++it) {
            checkString(it.key());
            walk(it.value(), budget);
        }
    }
}

int depthOf(const QJsonValue &value)
{
    int deepest = 0;
    if (value.isArray()) {
        for (const QJsonValue &element : value.toArray())
            deepest = qMax(deepest, depthOf(element));
        return deepest + 1;
    }
    if (value.isObject()) {
        const QJsonObject object = value.toObject();
        for (auto it = object.constBegin(); it != object.constEnd(); ++it)
            deepest = qMax(deepest, depthOf(it.value()));
        return deepest + 1;
    }
    return 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray text = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));

    Error error;
    const QJsonDocument doc = Codec::parseJson(text, &error);
    if (error) {
        FUZZ_CHECK(error.code == ErrorCode::InvalidJson && doc.isNull(), error.message.toUtf8());
        // What Qt's parser alone accepts within the depth bound, the codec accepts too.
        QJsonParseError strictError{};
        const QJsonDocument strict = QJsonDocument::fromJson(text, &strictError);
        if (strictError.error == QJsonParseError::NoError) {
            const int depth = strict.isArray() ? depthOf(strict.array()) : depthOf(strict.object());
            FUZZ_CHECK(depth > 64, error.message.toUtf8() + "\n" + FuzzSupport::show(strict));
        }
    } else {
        // The compact form of what was read reads back the same (how data is stored).
        const QByteArray compact = doc.toJson(QJsonDocument::Compact);
        Error again;
        FUZZ_CHECK(Codec::parseJson(compact, &again) == doc && !again, compact);

        QJsonValue root = doc.isArray() ? QJsonValue(doc.array()) : QJsonValue(doc.object());
        int budget = MaxValues;
        walk(root, &budget);

        qint64 seq = 1;
        checkEvent(root, seq++);
        if (root.isArray()) {
            const QJsonArray array = root.toArray();
            for (qsizetype i = 0; i < array.size() && i < MaxEvents; ++i)
                checkEvent(array.at(i), seq++);
        } else {
            // A publish op: {"op":"publish","event":{…}} or {"op":"publish","events":[…]}.
            const QJsonObject object = root.toObject();
            checkEvent(object.value(QLatin1String("event")), seq++);
            const QJsonArray events = object.value(QLatin1String("events")).toArray();
            for (qsizetype i = 0; i < events.size() && i < MaxEvents; ++i)
                checkEvent(events.at(i), seq++);
        }
    }

    // As an envelope from the store: what it accepts and would write itself reads back the same.
    Event stored;
    if (Codec::parseEnvelope(text, &stored)) {
        FUZZ_CHECK(stored.envelope == text, text);
        if (Codec::isValidRunId(stored.run) && Codec::isValidType(stored.type)
            && (stored.step.isEmpty() || Codec::isValidStepId(stored.step))) {
            Event rewritten = stored;
            Codec::serializeEnvelope(&rewritten);
            Event back;
            FUZZ_CHECK(Codec::parseEnvelope(rewritten.envelope, &back), describe(rewritten));
            FUZZ_CHECK(back.seq == stored.seq, describe(rewritten));
            checkSameEvent(stored, back, "a rewritten envelope differs from the one read");
        }
    }

    // As a bare timestamp and as a bare number.
    if (size <= 64) {
        checkTimestamp(QString::fromUtf8(text));
        checkTimestamp(QString::fromLatin1(text));
        bool ok = false;
        const double number = text.toDouble(&ok);
        if (ok)
            checkMetricValue(number);
        double fromString = 0;
        if (Codec::metricValue(QJsonValue(QString::fromUtf8(text)), &fromString))
            checkMetricValue(fromString);
    }
    Codec::isValidRunId(QString::fromUtf8(text));
    Codec::isValidStepId(QString::fromUtf8(text));
    Codec::isValidType(QString::fromUtf8(text));
    return 0;
}
