// Unit tests of the JSON codec (server/model/codec.h) against the wire contract (protocol.md):
// event validation for every event type, JSON parsing with Python's bare non-finite tokens,
// metric values, envelopes, batch and error frames, RFC 3339 timestamps.

#include "codec.h"
#include "event.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSet>
#include <QTest>

#include <cfloat>
#include <cmath>
#include <limits>

using namespace Runwatch;

namespace {

constexpr qint64 ReceivedMs = 1795435200123; // 2026-11-23T12:00:00.123Z
const double Inf = std::numeric_limits<double>::infinity();
const double NaN = std::numeric_limits<double>::quiet_NaN();

// Parses one JSON value (any kind) with Qt's own parser, independent of the codec.
QJsonValue jsonValue(const QByteArray &text)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson("[" + text + "]", &error);
    if (error.error != QJsonParseError::NoError || !doc.isArray() || doc.array().size() != 1)
        return QJsonValue(QJsonValue::Undefined);
    return doc.array().at(0);
}

QJsonObject jsonObject(const QByteArray &text)
{
    return jsonValue(text).toObject();
}

bool sameDouble(double a, double b)
{
    if (std::isnan(a) || std::isnan(b))
        return std::isnan(a) && std::isnan(b);
    return a == b && std::signbit(a) == std::signbit(b);
}

QByteArray eventJson(const QByteArray &run, const QByteArray &type, const QByteArray &data)
{
    return "{\"run\":" + run + ",\"type\":" + type + ",\"data\":" + data + "}";
}

bool isStepType(const QString &type)
{
    return type.startsWith(QLatin1String("step_"));
}

const QRegularExpression &rfc3339Ms()
{
    static const QRegularExpression re(
        QStringLiteral("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$"));
    return re;
}

// The reference formatter: Qt's own date code.
QString referenceTimestamp(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs);
}

} // namespace

class TestCodec : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void suggestType_data();
    void suggestType();
    void outOfRangeNumbers_data();
    void outOfRangeNumbers();
    void parseEventValid_data();
    void parseEventValid();
    void parseEventInvalid_data();
    void parseEventInvalid();
    void parseEventTimestamp_data();
    void parseEventTimestamp();
    void parseEventCustomTypeUnchanged();

    void eventKinds_data();
    void eventKinds();

    void parseJsonValid_data();
    void parseJsonValid();
    void parseJsonInvalid_data();
    void parseJsonInvalid();
    void parseJsonNonFinite_data();
    void parseJsonNonFinite();
    void parseJsonDepth_data();
    void parseJsonDepth();

    void metricValue_data();
    void metricValue();
    void metricValueJsonRoundTrip_data();
    void metricValueJsonRoundTrip();

    void serializeEnvelope_data();
    void serializeEnvelope();
    void serializeEnvelopeEscapes();
    void serializeEnvelopeLargeSeq();
    void batchFrame_data();
    void batchFrame();

    void errorFrame_data();
    void errorFrame();
    void errorFrameId_data();
    void errorFrameId();

    void formatTimestamp_data();
    void formatTimestamp();
    void formatTimestampMatchesReference();
    void parseTimestamp_data();
    void parseTimestamp();
    void timestampRoundTrip();
};

// ---------------------------------------------------------------------------------------------
// parseEvent

void TestCodec::suggestType_data()
{
    QTest::addColumn<QString>("type");
    QTest::addColumn<QString>("suggestion"); // empty: a custom type, no warning
    QTest::addRow("plural") << QStringLiteral("metrics") << QStringLiteral("metric");
    QTest::addRow("logs") << QStringLiteral("logs") << QStringLiteral("log");
    QTest::addRow("case") << QStringLiteral("Metric") << QStringLiteral("metric");
    QTest::addRow("dashes") << QStringLiteral("run-started") << QStringLiteral("run_started");
    QTest::addRow("camel case") << QStringLiteral("RunCompleted") << QStringLiteral("run_completed");
    QTest::addRow("missing letter") << QStringLiteral("progres") << QStringLiteral("progress");
    QTest::addRow("tense") << QStringLiteral("run_complete") << QStringLiteral("run_completed");
    QTest::addRow("transposed") << QStringLiteral("reuslt") << QStringLiteral("result");
    QTest::addRow("two slips, long name") << QStringLiteral("step_complted") << QStringLiteral("step_completed");
    QTest::addRow("known") << QStringLiteral("metric") << QString();
    QTest::addRow("custom quality_check") << QStringLiteral("quality_check") << QString();
    QTest::addRow("custom agent_spawned") << QStringLiteral("agent_spawned") << QString();
    QTest::addRow("custom loss") << QStringLiteral("loss") << QString();
    QTest::addRow("custom reset") << QStringLiteral("reset") << QString();
    QTest::addRow("custom checkpoint") << QStringLiteral("checkpoint") << QString();
    QTest::addRow("custom status") << QStringLiteral("status") << QString();
}

void TestCodec::suggestType()
{
    QFETCH(QString, type);
    QFETCH(QString, suggestion);
    QCOMPARE(Codec::suggestType(type), suggestion);
}

void TestCodec::outOfRangeNumbers_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QByteArray>("expected"); // the document as the server reads it
    QTest::addRow("overflow") << QByteArray(R"({"a":1e400})") << QByteArray(R"({"a":"Infinity"})");
    QTest::addRow("negative overflow") << QByteArray(R"({"a":-1.5E+400})") << QByteArray(R"({"a":"-Infinity"})");
    QTest::addRow("many digits") << QByteArray("{\"a\":1" + QByteArray(400, '0') + "}") << QByteArray(R"({"a":"Infinity"})");
    QTest::addRow("underflow") << QByteArray(R"({"a":1e-400})") << QByteArray(R"({"a":0})");
    QTest::addRow("small fraction") << QByteArray("{\"a\":0." + QByteArray(400, '0') + "1}") << QByteArray(R"({"a":0})");
    QTest::addRow("in an array, with NaN") << QByteArray(R"({"a":[1,1e999,NaN,2]})") << QByteArray(R"({"a":[1,"Infinity","NaN",2]})");
    QTest::addRow("in a string, untouched") << QByteArray(R"({"a":"1e400","b":1e400})") << QByteArray(R"({"a":"1e400","b":"Infinity"})");
    QTest::addRow("large but a double") << QByteArray(R"({"a":1e308})") << QByteArray(R"({"a":1e+308})");
}

void TestCodec::outOfRangeNumbers()
{
    QFETCH(QByteArray, json);
    QFETCH(QByteArray, expected);
    Error error;
    const QJsonDocument doc = Codec::parseJson(json, &error);
    QVERIFY2(!error, qPrintable(error.message));
    QCOMPARE(doc.toJson(QJsonDocument::Compact), QJsonDocument::fromJson(expected).toJson(QJsonDocument::Compact));
    // Still refused: broken numbers are not guessed at.
    QVERIFY(bool((Codec::parseJson(QByteArray(R"({"a":01})"), &error), error)));
    QVERIFY(bool((Codec::parseJson(QByteArray(R"({"a":1e})"), &error), error)));
}

void TestCodec::parseEventValid_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("run");
    QTest::addColumn<QString>("type");
    QTest::addColumn<QString>("step");

    const QString r1 = QStringLiteral("r1");
    auto row = [&](const char *name, const QByteArray &type, const QByteArray &data,
                   const QByteArray &step = QByteArray()) {
        QByteArray json = "{\"run\":\"r1\",\"type\":\"" + type + "\",\"data\":" + data;
        if (!step.isEmpty())
            json += ",\"step\":\"" + step + "\"";
        json += "}";
        QTest::newRow(name) << json << r1 << QString::fromUtf8(type) << QString::fromUtf8(step);
    };

    row("run_started full", "run_started",
        R"({"name":"bert","kind":"training","config":{"lr":0.001,"layers":[1,2]},"total_steps":100,"total_epochs":3,"tags":["a","b"]})");
    row("run_started empty data", "run_started", "{}");
    for (const char *kind : {"training", "evaluation", "workflow", "plan", "chat", "other"}) {
        const QByteArray name = QByteArray("run_started kind ") + kind;
        row(name.constData(), "run_started", QByteArray("{\"name\":\"n\",\"kind\":\"") + kind + "\"}");
    }
    for (const char *status : {"pending", "running", "paused", "completed", "failed", "cancelled"}) {
        const QByteArray name = QByteArray("run_status ") + status;
        row(name.constData(), "run_status",
            QByteArray("{\"status\":\"") + status + "\",\"message\":\"why\"}");
    }
    row("run_status without message", "run_status", R"({"status":"paused"})");
    row("progress full", "progress",
        R"({"completed":5,"total":10,"epoch":1,"total_epochs":3,"eta_s":12.5,"samples":7})");
    row("progress fractional", "progress", R"({"completed":0.5,"total":1})");
    row("metric with step", "metric", R"({"step":3,"loss":0.5,"eval_loss":0.6})");
    row("metric without step", "metric", R"({"loss":1})");
    row("metric many names", "metric",
        R"({"step":0,"loss":2.5,"samples_per_second":1234.5,"gpu_memory_allocated_gb":11.25})");
    row("metric NaN string", "metric", R"({"step":4,"loss":"NaN"})");
    row("metric Infinity string", "metric", R"({"step":5,"loss":"Infinity"})");
    row("metric -Infinity string", "metric", R"({"step":6,"loss":"-Infinity"})");
    row("metric negative and zero", "metric", R"({"reward":-3.5,"kl":0})");
    row("step_started", "step_started", R"({"name":"tokenize"})", "s1");
    row("step_started empty data", "step_started", "{}", "s1");
    row("step_progress", "step_progress", R"({"progress":0.5,"message":"half"})", "s1");
    row("step_progress bounds 0", "step_progress", R"({"progress":0})", "s1");
    row("step_progress bounds 1", "step_progress", R"({"progress":1})", "s1");
    row("step_completed", "step_completed", R"({"result":{"rows":10}})", "s1");
    row("step_failed", "step_failed", R"({"message":"disk full"})", "s-2.b:x");
    for (const char *level : {"debug", "info", "warning", "error"}) {
        const QByteArray name = QByteArray("log ") + level;
        row(name.constData(), "log", QByteArray("{\"level\":\"") + level + "\",\"message\":\"hello\"}");
    }
    row("token", "token", R"({"text":"Hel"})");
    row("token with stream", "token", R"({"text":"lo\n","stream":"stdout"})");
    row("token empty text", "token", R"({"text":""})");
    row("result object", "result", R"({"input":"2+2","output":"4","correct":true})");
    row("result empty", "result", "{}");
    row("error with code", "error", R"({"message":"boom","code":"E42"})");
    row("error without code", "error", R"({"message":"boom"})");
    row("run_completed empty", "run_completed", "{}");
    row("run_completed summary", "run_completed", R"({"summary":{"accuracy":0.9}})");
    row("run_failed message", "run_failed", R"({"message":"out of memory"})");
    row("run_failed empty", "run_failed", "{}");
    row("custom quality_check", "quality_check", R"({"score":0.9,"details":{"a":[1,2,null]}})");
    row("custom agent_spawned", "agent_spawned", R"({"agent":"planner","parent":null})");
    row("custom empty data", "something.else", "{}");

    QTest::newRow("run id of 128 chars")
        << eventJson("\"" + QByteArray(128, 'a') + "\"", "\"log\"", R"({"message":"m"})")
        << QString(128, QLatin1Char('a')) << QStringLiteral("log") << QString();
    QTest::newRow("run id of 1 char")
        << eventJson("\"x\"", "\"log\"", R"({"message":"m"})")
        << QStringLiteral("x") << QStringLiteral("log") << QString();
    QTest::newRow("run id with every allowed char class")
        << eventJson("\"AZaz09._:-\"", "\"log\"", R"({"message":"m"})")
        << QStringLiteral("AZaz09._:-") << QStringLiteral("log") << QString();
}

void TestCodec::parseEventValid()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, run);
    QFETCH(QString, type);
    QFETCH(QString, step);

    const QJsonValue value = jsonValue(json);
    QVERIFY2(value.isObject(), json.constData());
    Event event;
    const Error error = Codec::parseEvent(value, ReceivedMs, &event);
    QVERIFY2(!error, qPrintable(error.message));
    QCOMPARE(error.code, ErrorCode::None);
    QCOMPARE(event.run, run);
    QCOMPARE(event.type, type);
    QCOMPARE(event.step, step);
    QCOMPARE(event.kind, eventKindFor(type));
    QCOMPARE(event.tsMs, ReceivedMs);
    QCOMPARE(event.data, value.toObject().value(QLatin1String("data")).toObject());
}

void TestCodec::parseEventInvalid_data()
{
    QTest::addColumn<QByteArray>("json");

    const QByteArray logData = R"({"message":"m"})";
    // Not an object at all.
    QTest::newRow("event is an array") << QByteArray(R"([{"run":"r1","type":"log","data":{}}])");
    QTest::newRow("event is a string") << QByteArray(R"("run")");
    QTest::newRow("event is a number") << QByteArray("42");
    QTest::newRow("event is null") << QByteArray("null");

    // Run ids.
    QTest::newRow("run missing") << QByteArray(R"({"type":"log","data":{"message":"m"}})");
    QTest::newRow("run empty") << eventJson("\"\"", "\"log\"", logData);
    QTest::newRow("run of 129 chars") << eventJson("\"" + QByteArray(129, 'a') + "\"", "\"log\"", logData);
    QTest::newRow("run with space") << eventJson("\"a b\"", "\"log\"", logData);
    QTest::newRow("run with slash") << eventJson("\"a/b\"", "\"log\"", logData);
    QTest::newRow("run with star") << eventJson("\"a*b\"", "\"log\"", logData);
    QTest::newRow("run with non-ascii") << eventJson("\"caf\xc3\xa9\"", "\"log\"", logData);
    QTest::newRow("run with NUL escape") << eventJson("\"a\\u0000b\"", "\"log\"", logData);
    QTest::newRow("run with newline") << eventJson("\"a\\nb\"", "\"log\"", logData);
    QTest::newRow("run with question mark") << eventJson("\"a?b\"", "\"log\"", logData);
    QTest::newRow("run is a number") << eventJson("42", "\"log\"", logData);
    QTest::newRow("run is null") << eventJson("null", "\"log\"", logData);
    QTest::newRow("run is an object") << eventJson("{}", "\"log\"", logData);

    // Types.
    QTest::newRow("type missing") << QByteArray(R"({"run":"r1","data":{"message":"m"}})");
    QTest::newRow("type empty") << eventJson("\"r1\"", "\"\"", logData);
    QTest::newRow("type is a number") << eventJson("\"r1\"", "42", logData);
    QTest::newRow("type is null") << eventJson("\"r1\"", "null", logData);

    // Data.
    QTest::newRow("data missing") << QByteArray(R"({"run":"r1","type":"log"})");
    QTest::newRow("data is an array") << eventJson("\"r1\"", "\"log\"", "[1,2]");
    QTest::newRow("data is a string") << eventJson("\"r1\"", "\"log\"", "\"m\"");
    QTest::newRow("data is a number") << eventJson("\"r1\"", "\"metric\"", "5");
    QTest::newRow("custom type, data is an array") << eventJson("\"r1\"", "\"quality_check\"", "[]");
    QTest::newRow("result, data is an array") << eventJson("\"r1\"", "\"result\"", "[{\"ok\":true}]");
    QTest::newRow("run_completed, data is a string") << eventJson("\"r1\"", "\"run_completed\"", "\"done\"");

    // Step events without a step.
    for (const char *type : {"step_started", "step_progress", "step_completed", "step_failed"}) {
        const QByteArray quoted = QByteArray("\"") + type + "\"";
        QTest::addRow("%s without step", type) << eventJson("\"r1\"", quoted, "{}");
        QTest::addRow("%s with empty step", type)
            << QByteArray("{\"run\":\"r1\",\"type\":" + quoted + ",\"step\":\"\",\"data\":{}}");
        QTest::addRow("%s with null step", type)
            << QByteArray("{\"run\":\"r1\",\"type\":" + quoted + ",\"step\":null,\"data\":{}}");
    }
    QTest::newRow("step is an object")
        << QByteArray(R"({"run":"r1","type":"step_started","step":{},"data":{}})");
    QTest::newRow("step of 129 chars")
        << QByteArray("{\"run\":\"r1\",\"type\":\"step_started\",\"step\":\"" + QByteArray(129, 's')
                      + "\",\"data\":{}}");

    // Timestamps.
    QTest::newRow("ts is text") << QByteArray(R"({"run":"r1","type":"log","ts":"yesterday","data":{"message":"m"}})");
    QTest::newRow("ts is a date only") << QByteArray(R"({"run":"r1","type":"log","ts":"2026-11-23","data":{"message":"m"}})");
    QTest::newRow("ts without zone") << QByteArray(R"({"run":"r1","type":"log","ts":"2026-11-23T12:00:00","data":{"message":"m"}})");
    QTest::newRow("ts with month 13") << QByteArray(R"({"run":"r1","type":"log","ts":"2026-13-23T12:00:00Z","data":{"message":"m"}})");
    QTest::newRow("ts is a bool") << QByteArray(R"({"run":"r1","type":"log","ts":true,"data":{"message":"m"}})");
    QTest::newRow("ts is an object") << QByteArray(R"({"run":"r1","type":"log","ts":{},"data":{"message":"m"}})");
    QTest::newRow("ts is an array") << QByteArray(R"({"run":"r1","type":"log","ts":[],"data":{"message":"m"}})");

    // Invalid data per event type.
    QTest::newRow("run_started unknown kind") << eventJson("\"r1\"", "\"run_started\"", R"({"kind":"banana"})");
    QTest::newRow("run_started config not object") << eventJson("\"r1\"", "\"run_started\"", R"({"config":[1]})");
    QTest::newRow("run_started tags not array") << eventJson("\"r1\"", "\"run_started\"", R"({"tags":"a"})");
    QTest::newRow("run_started tags not strings") << eventJson("\"r1\"", "\"run_started\"", R"({"tags":[1,2]})");
    QTest::newRow("run_started name not string") << eventJson("\"r1\"", "\"run_started\"", R"({"name":5})");
    QTest::newRow("run_started total_steps not number") << eventJson("\"r1\"", "\"run_started\"", R"({"total_steps":"many"})");
    QTest::newRow("run_status missing status") << eventJson("\"r1\"", "\"run_status\"", R"({"message":"x"})");
    QTest::newRow("run_status unknown status") << eventJson("\"r1\"", "\"run_status\"", R"({"status":"exploded"})");
    QTest::newRow("run_status status not string") << eventJson("\"r1\"", "\"run_status\"", R"({"status":1})");
    QTest::newRow("progress missing completed") << eventJson("\"r1\"", "\"progress\"", R"({"total":10})");
    QTest::newRow("progress completed not number") << eventJson("\"r1\"", "\"progress\"", R"({"completed":"five","total":10})");
    QTest::newRow("progress total not number") << eventJson("\"r1\"", "\"progress\"", R"({"completed":5,"total":"ten"})");
    QTest::newRow("metric value is text") << eventJson("\"r1\"", "\"metric\"", R"({"loss":"abc"})");
    QTest::newRow("metric value is numeric text") << eventJson("\"r1\"", "\"metric\"", R"({"loss":"1.5"})");
    QTest::newRow("metric value is an array") << eventJson("\"r1\"", "\"metric\"", R"({"loss":[1]})");
    QTest::newRow("nested metric value is text") << eventJson("\"r1\"", "\"metric\"", R"({"train":{"loss":"high"}})");
    QTest::newRow("metric value is a bool") << eventJson("\"r1\"", "\"metric\"", R"({"loss":true})");
    QTest::newRow("metric step fractional") << eventJson("\"r1\"", "\"metric\"", R"({"step":1.5,"loss":1})");
    QTest::newRow("metric step is text") << eventJson("\"r1\"", "\"metric\"", R"({"step":"three","loss":1})");
    QTest::newRow("step_progress progress above 1")
        << QByteArray(R"({"run":"r1","type":"step_progress","step":"s1","data":{"progress":1.5}})");
    QTest::newRow("step_progress progress negative")
        << QByteArray(R"({"run":"r1","type":"step_progress","step":"s1","data":{"progress":-0.1}})");
    QTest::newRow("step_progress progress is text")
        << QByteArray(R"({"run":"r1","type":"step_progress","step":"s1","data":{"progress":"half"}})");
    QTest::newRow("step_started name not string")
        << QByteArray(R"({"run":"r1","type":"step_started","step":"s1","data":{"name":[]}})");
    QTest::newRow("log unknown level") << eventJson("\"r1\"", "\"log\"", R"({"level":"fatal","message":"m"})");
    QTest::newRow("log missing message") << eventJson("\"r1\"", "\"log\"", R"({"level":"info"})");
    QTest::newRow("log message not string") << eventJson("\"r1\"", "\"log\"", R"({"level":"info","message":5})");
    QTest::newRow("token missing text") << eventJson("\"r1\"", "\"token\"", R"({"stream":"stdout"})");
    QTest::newRow("token text not string") << eventJson("\"r1\"", "\"token\"", R"({"text":5})");
    QTest::newRow("error missing message") << eventJson("\"r1\"", "\"error\"", R"({"code":"E1"})");
    QTest::newRow("error message not string") << eventJson("\"r1\"", "\"error\"", R"({"message":{}})");
    QTest::newRow("run_failed message not string") << eventJson("\"r1\"", "\"run_failed\"", R"({"message":5})");
}

void TestCodec::parseEventInvalid()
{
    QFETCH(QByteArray, json);
    const QJsonValue value = jsonValue(json);
    QVERIFY2(!value.isUndefined(), "the test row itself must be JSON");
    Event event;
    const Error error = Codec::parseEvent(value, ReceivedMs, &event);
    QVERIFY2(bool(error), json.constData());
    QCOMPARE(error.code, ErrorCode::InvalidEvent);
    QCOMPARE(errorCodeName(error.code), QStringLiteral("INVALID_EVENT"));
    QVERIFY2(!error.message.trimmed().isEmpty(), "an error needs a human readable message");
}

void TestCodec::parseEventTimestamp_data()
{
    QTest::addColumn<QByteArray>("ts");
    QTest::addColumn<qint64>("expectedMs");

    QTest::newRow("no ts: received time") << QByteArray() << ReceivedMs;
    QTest::newRow("ts null: received time") << QByteArray("null") << ReceivedMs;
    QTest::newRow("Z with ms") << QByteArray("\"2026-11-23T12:00:00.123Z\"") << qint64(1795435200123);
    QTest::newRow("Z without ms") << QByteArray("\"2026-11-23T12:00:00Z\"") << qint64(1795435200000);
    QTest::newRow("offset") << QByteArray("\"2026-11-23T14:00:00.123+02:00\"") << qint64(1795435200123);
    QTest::newRow("epoch") << QByteArray("\"1970-01-01T00:00:00.000Z\"") << qint64(0);
}

void TestCodec::parseEventTimestamp()
{
    QFETCH(QByteArray, ts);
    QFETCH(qint64, expectedMs);
    QByteArray json = R"({"run":"r1","type":"log","data":{"message":"m"})";
    if (!ts.isEmpty())
        json += ",\"ts\":" + ts;
    json += "}";
    Event event;
    const Error error = Codec::parseEvent(jsonValue(json), ReceivedMs, &event);
    QVERIFY2(!error, qPrintable(error.message));
    QCOMPARE(event.tsMs, expectedMs);
}

void TestCodec::parseEventCustomTypeUnchanged()
{
    // "anything else: stored and forwarded unchanged".
    const QJsonObject data = jsonObject(
        R"({"score":0.25,"tags":["x","y"],"nested":{"deep":{"list":[1,"two",null,true,{"k":"v"}]}},"text":"caf\u00e9 \u2713","big":12345678901,"neg":-0.5,"empty":{}})");
    QVERIFY(!data.isEmpty());
    const QJsonObject object{{QStringLiteral("run"), QStringLiteral("r1")},
                             {QStringLiteral("type"), QStringLiteral("quality_check")},
                             {QStringLiteral("data"), data}};
    Event event;
    const Error error = Codec::parseEvent(object, ReceivedMs, &event);
    QVERIFY2(!error, qPrintable(error.message));
    QCOMPARE(event.kind, EventKind::Other);
    QCOMPARE(event.type, QStringLiteral("quality_check"));
    QCOMPARE(event.data, data);

    event.seq = 17;
    Codec::serializeEnvelope(&event);
    const QJsonObject envelope = jsonObject(event.envelope);
    QCOMPARE(envelope.value(QLatin1String("type")).toString(), QStringLiteral("quality_check"));
    QCOMPARE(envelope.value(QLatin1String("data")).toObject(), data);
}

void TestCodec::eventKinds_data()
{
    QTest::addColumn<QString>("type");
    QTest::addColumn<int>("kind");
    QTest::addColumn<bool>("lifecycle");

    QTest::newRow("run_started") << QStringLiteral("run_started") << int(EventKind::RunStarted) << true;
    QTest::newRow("run_status") << QStringLiteral("run_status") << int(EventKind::RunStatus) << true;
    QTest::newRow("progress") << QStringLiteral("progress") << int(EventKind::Progress) << true;
    QTest::newRow("metric") << QStringLiteral("metric") << int(EventKind::Metric) << false;
    QTest::newRow("step_started") << QStringLiteral("step_started") << int(EventKind::StepStarted) << false;
    QTest::newRow("step_progress") << QStringLiteral("step_progress") << int(EventKind::StepProgress) << false;
    QTest::newRow("step_completed") << QStringLiteral("step_completed") << int(EventKind::StepCompleted) << false;
    QTest::newRow("step_failed") << QStringLiteral("step_failed") << int(EventKind::StepFailed) << false;
    QTest::newRow("log") << QStringLiteral("log") << int(EventKind::Log) << false;
    QTest::newRow("token") << QStringLiteral("token") << int(EventKind::Token) << false;
    QTest::newRow("result") << QStringLiteral("result") << int(EventKind::Result) << false;
    QTest::newRow("error") << QStringLiteral("error") << int(EventKind::ErrorEvent) << false;
    QTest::newRow("run_completed") << QStringLiteral("run_completed") << int(EventKind::RunCompleted) << true;
    QTest::newRow("run_failed") << QStringLiteral("run_failed") << int(EventKind::RunFailed) << true;
    QTest::newRow("quality_check") << QStringLiteral("quality_check") << int(EventKind::Other) << false;
    QTest::newRow("case matters") << QStringLiteral("Metric") << int(EventKind::Other) << false;
}

void TestCodec::eventKinds()
{
    QFETCH(QString, type);
    QFETCH(int, kind);
    QFETCH(bool, lifecycle);
    QCOMPARE(int(eventKindFor(type)), kind);
    QCOMPARE(isLifecycle(eventKindFor(type)), lifecycle);
}

// ---------------------------------------------------------------------------------------------
// parseJson

void TestCodec::parseJsonValid_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::newRow("object") << QByteArray(R"({"a":1,"b":[true,false,null],"c":"x"})");
    QTest::newRow("array") << QByteArray(R"([1,2,3])");
    QTest::newRow("whitespace") << QByteArray(" \n\t{ \"a\" : 1 }\r\n");
    QTest::newRow("utf-8 text") << QByteArray("{\"t\":\"caf\xc3\xa9 \xe2\x9c\x93\"}");
    QTest::newRow("strings with N and I") << QByteArray(R"({"Name":"Nina","Info":"Ion"})");
}

void TestCodec::parseJsonValid()
{
    QFETCH(QByteArray, text);
    Error error{ErrorCode::UnknownRun, QStringLiteral("stale")};
    const QJsonDocument doc = Codec::parseJson(text, &error);
    QVERIFY2(!error, qPrintable(error.message));
    QVERIFY(!doc.isNull());
    QJsonParseError reference{};
    QCOMPARE(doc, QJsonDocument::fromJson(text, &reference));
}

void TestCodec::parseJsonInvalid_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::newRow("empty") << QByteArray();
    QTest::newRow("blank") << QByteArray("   ");
    QTest::newRow("unterminated object") << QByteArray("{");
    QTest::newRow("missing value") << QByteArray(R"({"a":})");
    QTest::newRow("plain text") << QByteArray("not json");
    QTest::newRow("single quotes") << QByteArray("{'a':1}");
    QTest::newRow("unterminated array") << QByteArray("[1,2");
    QTest::newRow("trailing garbage") << QByteArray("{} x");
    QTest::newRow("trailing comma") << QByteArray(R"({"a":1,})");
    QTest::newRow("unterminated string") << QByteArray(R"({"a":"b})");
    QTest::newRow("bare word starting with N") << QByteArray(R"({"a":Nonsense})");
    QTest::newRow("bare word starting with I") << QByteArray(R"({"a":Inf})");
    QTest::newRow("NaN glued to letters") << QByteArray(R"({"a":NaNa})");
    QTest::newRow("Infinity glued to letters") << QByteArray(R"({"a":Infinityx})");
    QTest::newRow("lowercase nan") << QByteArray(R"({"a":nan})");
    QTest::newRow("lowercase infinity") << QByteArray(R"({"a":infinity})");
    QTest::newRow("+Infinity") << QByteArray(R"({"a":+Infinity})");
    QTest::newRow("NaN as a key") << QByteArray(R"({NaN:1})");
    QTest::newRow("broken and NaN") << QByteArray(R"({"a":NaN,)");
}

void TestCodec::parseJsonInvalid()
{
    QFETCH(QByteArray, text);
    Error error;
    Codec::parseJson(text, &error);
    QCOMPARE(error.code, ErrorCode::InvalidJson);
    QVERIFY(!error.message.trimmed().isEmpty());
}

void TestCodec::parseJsonNonFinite_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QByteArray>("expected"); // the same document written with strict JSON

    QTest::newRow("NaN") << QByteArray(R"({"loss":NaN})") << QByteArray(R"({"loss":"NaN"})");
    QTest::newRow("Infinity") << QByteArray(R"({"loss":Infinity})") << QByteArray(R"({"loss":"Infinity"})");
    QTest::newRow("-Infinity") << QByteArray(R"({"loss":-Infinity})") << QByteArray(R"({"loss":"-Infinity"})");
    QTest::newRow("all three in an array") << QByteArray("[NaN, Infinity, -Infinity, 1]")
                                           << QByteArray(R"(["NaN","Infinity","-Infinity",1])");
    QTest::newRow("nested") << QByteArray(R"({"m":{"x":[1,NaN,{"y":-Infinity}]}})")
                            << QByteArray(R"({"m":{"x":[1,"NaN",{"y":"-Infinity"}]}})");
    QTest::newRow("spaces around") << QByteArray("{\"a\" :  -Infinity ,\"b\":\tNaN\n}")
                                   << QByteArray(R"({"a":"-Infinity","b":"NaN"})");
    QTest::newRow("python json.dumps")
        << QByteArray(R"({"run": "r1", "type": "metric", "data": {"step": 3, "loss": NaN, "grad_norm": Infinity}})")
        << QByteArray(R"({"run":"r1","type":"metric","data":{"step":3,"loss":"NaN","grad_norm":"Infinity"}})");
    // Inside strings the words are plain text and must stay exactly as sent.
    QTest::newRow("words inside strings stay")
        << QByteArray(R"({"t":"say NaN, then Infinity or -Infinity","x":NaN})")
        << QByteArray(R"({"t":"say NaN, then Infinity or -Infinity","x":"NaN"})");
    QTest::newRow("escaped quote before NaN in a string")
        << QByteArray(R"({"t":"a \"NaN\" b","x":Infinity})")
        << QByteArray(R"({"t":"a \"NaN\" b","x":"Infinity"})");
    QTest::newRow("string ending in a backslash")
        << QByteArray(R"({"t":"back\\","x":NaN,"u":"\\NaN"})")
        << QByteArray(R"({"t":"back\\","x":"NaN","u":"\\NaN"})");
    QTest::newRow("key named NaN") << QByteArray(R"({"NaN":NaN,"Infinity":-Infinity})")
                                   << QByteArray(R"({"NaN":"NaN","Infinity":"-Infinity"})");
    QTest::newRow("strings only, no bare tokens")
        << QByteArray(R"({"a":"NaN","b":"-Infinity"})") << QByteArray(R"({"a":"NaN","b":"-Infinity"})");
}

void TestCodec::parseJsonNonFinite()
{
    QFETCH(QByteArray, text);
    QFETCH(QByteArray, expected);
    Error error;
    const QJsonDocument doc = Codec::parseJson(text, &error);
    QVERIFY2(!error, qPrintable(error.message));
    QJsonParseError reference{};
    const QJsonDocument want = QJsonDocument::fromJson(expected, &reference);
    QCOMPARE(reference.error, QJsonParseError::NoError);
    QCOMPARE(doc, want);
}

void TestCodec::parseJsonDepth_data()
{
    QTest::addColumn<int>("depth");
    QTest::addColumn<int>("maxDepth"); // 0: the default
    QTest::addColumn<bool>("accepted");

    QTest::newRow("default, depth 1") << 1 << 0 << true;
    QTest::newRow("default, depth 64") << 64 << 0 << true;
    QTest::newRow("default, depth 65") << 65 << 0 << false;
    QTest::newRow("default, depth 5000") << 5000 << 0 << false;
    QTest::newRow("default, depth 200000") << 200000 << 0 << false;
    QTest::newRow("max 3, depth 3") << 3 << 3 << true;
    QTest::newRow("max 3, depth 4") << 4 << 3 << false;
    QTest::newRow("max 1, depth 1") << 1 << 1 << true;
    QTest::newRow("max 1, depth 2") << 2 << 1 << false;
    QTest::newRow("max 100, depth 100") << 100 << 100 << true;
    QTest::newRow("max 100, depth 101") << 101 << 100 << false;
}

void TestCodec::parseJsonDepth()
{
    QFETCH(int, depth);
    QFETCH(int, maxDepth);
    QFETCH(bool, accepted);

    // Alternate objects and arrays: {"a":[{"a":[ ... 1 ... ]}]}
    QByteArray text;
    for (int i = 0; i < depth; ++i)
        text += (i % 2 == 0) ? QByteArray("{\"a\":") : QByteArray("[");
    text += "NaN";
    for (int i = depth - 1; i >= 0; --i)
        text += (i % 2 == 0) ? QByteArray("}") : QByteArray("]");

    Error error;
    const QJsonDocument doc = maxDepth > 0 ? Codec::parseJson(text, &error, maxDepth)
                                           : Codec::parseJson(text, &error);
    if (accepted) {
        QVERIFY2(!error, qPrintable(error.message));
        QVERIFY(!doc.isNull());
    } else {
        QCOMPARE(error.code, ErrorCode::InvalidJson);
        QVERIFY(!error.message.isEmpty());
    }
}

// ---------------------------------------------------------------------------------------------
// Metric values

void TestCodec::metricValue_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<double>("expected");

    QTest::newRow("integer") << QByteArray("3") << true << 3.0;
    QTest::newRow("fraction") << QByteArray("1.5") << true << 1.5;
    QTest::newRow("negative") << QByteArray("-0.25") << true << -0.25;
    QTest::newRow("zero") << QByteArray("0") << true << 0.0;
    QTest::newRow("exponent") << QByteArray("1e-12") << true << 1e-12;
    QTest::newRow("huge") << QByteArray("1.5e300") << true << 1.5e300;
    QTest::newRow("\"NaN\"") << QByteArray("\"NaN\"") << true << NaN;
    QTest::newRow("\"Infinity\"") << QByteArray("\"Infinity\"") << true << Inf;
    QTest::newRow("\"-Infinity\"") << QByteArray("\"-Infinity\"") << true << -Inf;
    QTest::newRow("other text") << QByteArray("\"abc\"") << false << 0.0;
    QTest::newRow("empty text") << QByteArray("\"\"") << false << 0.0;
    QTest::newRow("numeric text") << QByteArray("\"1.5\"") << false << 0.0;
    QTest::newRow("\"NaN \"") << QByteArray("\"NaN \"") << false << 0.0;
    QTest::newRow("\"+Infinity\"") << QByteArray("\"+Infinity\"") << false << 0.0;
    QTest::newRow("bool") << QByteArray("true") << false << 0.0;
    QTest::newRow("null") << QByteArray("null") << false << 0.0;
    QTest::newRow("object") << QByteArray("{}") << false << 0.0;
    QTest::newRow("array") << QByteArray("[1]") << false << 0.0;
}

void TestCodec::metricValue()
{
    QFETCH(QByteArray, json);
    QFETCH(bool, ok);
    QFETCH(double, expected);
    const QJsonValue value = jsonValue(json);
    QVERIFY(!value.isUndefined());
    double out = 12345.0;
    QCOMPARE(Codec::metricValue(value, &out), ok);
    if (ok)
        QVERIFY2(sameDouble(out, expected), qPrintable(QString::number(out)));
}

void TestCodec::metricValueJsonRoundTrip_data()
{
    QTest::addColumn<double>("value");
    QTest::addColumn<QByteArray>("exact"); // empty: only the round trip is checked

    QTest::newRow("NaN") << NaN << QByteArray("\"NaN\"");
    QTest::newRow("+Infinity") << Inf << QByteArray("\"Infinity\"");
    QTest::newRow("-Infinity") << -Inf << QByteArray("\"-Infinity\"");
    QTest::newRow("zero") << 0.0 << QByteArray("0");
    QTest::newRow("one") << 1.0 << QByteArray("1");
    QTest::newRow("minus one") << -1.0 << QByteArray("-1");
    QTest::newRow("large integer") << 123456789.0 << QByteArray("123456789");
    QTest::newRow("0.1") << 0.1 << QByteArray();
    QTest::newRow("1/3") << 1.0 / 3.0 << QByteArray();
    QTest::newRow("0.1+0.2") << 0.1 + 0.2 << QByteArray();
    QTest::newRow("-2.5e-7") << -2.5e-7 << QByteArray();
    QTest::newRow("1e15") << 1e15 << QByteArray();
    QTest::newRow("2^53") << 9007199254740992.0 << QByteArray();
    QTest::newRow("1.2345678901234567e18") << 1.2345678901234567e18 << QByteArray();
    QTest::newRow("1e300") << 1e300 << QByteArray();
    QTest::newRow("-1e300") << -1e300 << QByteArray();
    QTest::newRow("DBL_MAX") << DBL_MAX << QByteArray();
    QTest::newRow("DBL_MIN") << DBL_MIN << QByteArray();
    QTest::newRow("half") << 0.5 << QByteArray();
    QTest::newRow("loss-like") << 2.718281828459045 << QByteArray();
}

void TestCodec::metricValueJsonRoundTrip()
{
    QFETCH(double, value);
    QFETCH(QByteArray, exact);
    const QByteArray text = Codec::metricValueJson(value);
    if (!exact.isEmpty())
        QCOMPARE(text, exact);
    // It must be valid JSON: a number for finite values, the contract's string otherwise.
    const QJsonValue parsed = jsonValue(text);
    QVERIFY2(!parsed.isUndefined(), text.constData());
    if (std::isfinite(value))
        QVERIFY2(parsed.isDouble(), text.constData());
    else
        QVERIFY2(parsed.isString(), text.constData());
    double back = 0;
    QVERIFY(Codec::metricValue(parsed, &back));
    QVERIFY2(sameDouble(back, value) || (value == 0 && back == 0),
             qPrintable(QStringLiteral("%1 came back as %2")
                            .arg(QString::number(value, 'g', 17), QString::number(back, 'g', 17))));
}

// ---------------------------------------------------------------------------------------------
// Envelopes and frames

void TestCodec::serializeEnvelope_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<qint64>("seq");

    auto row = [](const char *name, const QByteArray &json, qint64 seq) {
        QTest::newRow(name) << json << seq;
    };
    row("run_started", R"({"run":"r1","type":"run_started","data":{"name":"n","kind":"training","config":{"lr":0.1},"tags":["a"]}})", 1);
    row("run_status", R"({"run":"r1","type":"run_status","data":{"status":"paused"}})", 2);
    row("progress", R"({"run":"r1","type":"progress","data":{"completed":1,"total":4}})", 3);
    row("metric", R"({"run":"r1","type":"metric","data":{"step":7,"loss":0.5}})", 4);
    row("metric NaN", R"({"run":"r1","type":"metric","data":{"step":8,"loss":"NaN","x":"-Infinity"}})", 5);
    row("step_started", R"({"run":"r1","type":"step_started","step":"s1","data":{"name":"load"}})", 6);
    row("step_progress", R"({"run":"r1","type":"step_progress","step":"s1","data":{"progress":0.5}})", 7);
    row("step_completed", R"({"run":"r1","type":"step_completed","step":"s1","data":{}})", 8);
    row("step_failed", R"({"run":"r1","type":"step_failed","step":"s:2","data":{"message":"x"}})", 9);
    row("log", R"({"run":"r1","type":"log","data":{"level":"info","message":"hi"}})", 10);
    row("token", R"({"run":"r1","type":"token","data":{"text":"a\"b\\c\n"}})", 11);
    row("result", R"({"run":"r1","type":"result","data":{"ok":true}})", 12);
    row("error", R"({"run":"r1","type":"error","data":{"message":"boom"}})", 13);
    row("run_completed", R"({"run":"r1","type":"run_completed","data":{}})", 14);
    row("run_failed", R"({"run":"r1","type":"run_failed","data":{"message":"oom"}})", 15);
    row("custom", R"({"run":"r-2.x:y","type":"quality_check","data":{"a":{"b":[1,2]}}})", 16);
    row("with ts", R"({"run":"r1","type":"log","ts":"2024-02-29T23:59:59.999+00:00","data":{"message":"m"}})", 17);
    row("with ts without ms", R"({"run":"r1","type":"log","ts":"2026-11-23T12:00:00Z","data":{"message":"m"}})", 18);
}

void TestCodec::serializeEnvelope()
{
    QFETCH(QByteArray, json);
    QFETCH(qint64, seq);
    const QJsonObject input = jsonObject(json);
    QVERIFY(!input.isEmpty());
    Event event;
    const Error error = Codec::parseEvent(input, ReceivedMs, &event);
    QVERIFY2(!error, qPrintable(error.message));
    event.seq = seq;
    Codec::serializeEnvelope(&event);
    QVERIFY(!event.envelope.isEmpty());

    QJsonParseError parseError{};
    const QJsonDocument doc = QJsonDocument::fromJson(event.envelope, &parseError);
    QVERIFY2(parseError.error == QJsonParseError::NoError, event.envelope.constData());
    QVERIFY(doc.isObject());
    const QJsonObject envelope = doc.object();

    QSet<QString> keys;
    for (const QString &key : envelope.keys())
        keys.insert(key);
    QSet<QString> expectedKeys{QStringLiteral("seq"), QStringLiteral("run"), QStringLiteral("type"),
                               QStringLiteral("ts"), QStringLiteral("data")};
    if (isStepType(input.value(QLatin1String("type")).toString()))
        expectedKeys.insert(QStringLiteral("step"));
    QCOMPARE(keys, expectedKeys);

    QVERIFY(envelope.value(QLatin1String("seq")).isDouble());
    QCOMPARE(envelope.value(QLatin1String("seq")).toInteger(), seq);
    QCOMPARE(envelope.value(QLatin1String("run")).toString(), input.value(QLatin1String("run")).toString());
    QCOMPARE(envelope.value(QLatin1String("type")).toString(), input.value(QLatin1String("type")).toString());
    if (expectedKeys.contains(QStringLiteral("step")))
        QCOMPARE(envelope.value(QLatin1String("step")).toString(), input.value(QLatin1String("step")).toString());
    QCOMPARE(envelope.value(QLatin1String("data")).toObject(), input.value(QLatin1String("data")).toObject());

    const QString ts = envelope.value(QLatin1String("ts")).toString();
    QVERIFY2(rfc3339Ms().match(ts).hasMatch(), qPrintable(ts));
    qint64 tsMs = 0;
    QVERIFY(Codec::parseTimestamp(ts, &tsMs));
    QCOMPARE(tsMs, event.tsMs);
    QCOMPARE(ts, referenceTimestamp(event.tsMs));
}

void TestCodec::serializeEnvelopeEscapes()
{
    // Step ids are free text (printable): quotes, backslashes and non-ASCII must survive.
    Event event;
    event.seq = 5;
    event.tsMs = ReceivedMs;
    event.run = QStringLiteral("r1");
    event.type = QStringLiteral("step_started");
    event.kind = EventKind::StepStarted;
    event.step = QString::fromUtf8("a \"b\" \\ caf\xc3\xa9 \xe2\x9c\x93 </script>");
    event.data = QJsonObject{{QStringLiteral("name"), QString::fromUtf8("ctl\x01\x1f tab\t nl\n \xf0\x9f\x98\x80")}};
    Codec::serializeEnvelope(&event);
    QJsonParseError parseError{};
    const QJsonDocument doc = QJsonDocument::fromJson(event.envelope, &parseError);
    QVERIFY2(parseError.error == QJsonParseError::NoError, event.envelope.constData());
    QCOMPARE(doc.object().value(QLatin1String("step")).toString(), event.step);
    QCOMPARE(doc.object().value(QLatin1String("data")).toObject(), event.data);
    // Raw control characters are not allowed inside JSON strings.
    for (char c : event.envelope)
        QVERIFY2(static_cast<unsigned char>(c) >= 0x20, event.envelope.constData());

    QCOMPARE(Codec::jsonString(event.step), QJsonDocument(QJsonArray{event.step}).toJson(QJsonDocument::Compact).mid(1).chopped(1));
}

void TestCodec::serializeEnvelopeLargeSeq()
{
    // seq is a 64-bit integer: it must be written exactly, never in exponent form.
    Event event;
    event.seq = 9007199254740993LL; // 2^53 + 1
    event.tsMs = 0;
    event.run = QStringLiteral("r1");
    event.type = QStringLiteral("log");
    event.kind = EventKind::Log;
    event.data = QJsonObject{{QStringLiteral("message"), QStringLiteral("m")}};
    Codec::serializeEnvelope(&event);
    QVERIFY2(event.envelope.contains("\"seq\":9007199254740993,") || event.envelope.contains("\"seq\":9007199254740993}"),
             event.envelope.constData());
    const QJsonObject envelope = jsonObject(event.envelope);
    QCOMPARE(envelope.value(QLatin1String("ts")).toString(), QStringLiteral("1970-01-01T00:00:00.000Z"));
}

void TestCodec::batchFrame_data()
{
    QTest::addColumn<int>("count");
    QTest::newRow("empty") << 0;
    QTest::newRow("one") << 1;
    QTest::newRow("three") << 3;
    QTest::newRow("hundred") << 100;
}

void TestCodec::batchFrame()
{
    QFETCH(int, count);
    QVector<QByteArray> envelopes;
    QVector<QJsonObject> expected;
    for (int i = 0; i < count; ++i) {
        Event event;
        event.seq = 100 + i;
        event.tsMs = ReceivedMs + i;
        event.run = (i % 2) ? QStringLiteral("a") : QStringLiteral("b");
        event.type = QStringLiteral("metric");
        event.kind = EventKind::Metric;
        event.data = QJsonObject{{QStringLiteral("step"), i}, {QStringLiteral("loss"), 1.0 / (i + 1)}};
        Codec::serializeEnvelope(&event);
        envelopes.append(event.envelope);
        expected.append(jsonObject(event.envelope));
    }
    const QByteArray frame = Codec::batchFrame(envelopes);
    QJsonParseError parseError{};
    const QJsonDocument doc = QJsonDocument::fromJson(frame, &parseError);
    QVERIFY2(parseError.error == QJsonParseError::NoError, frame.left(200).constData());
    const QJsonObject object = doc.object();
    QCOMPARE(object.value(QLatin1String("type")).toString(), QStringLiteral("batch"));
    QVERIFY(object.value(QLatin1String("events")).isArray());
    const QJsonArray events = object.value(QLatin1String("events")).toArray();
    QCOMPARE(events.size(), qsizetype(count));
    for (int i = 0; i < count; ++i)
        QCOMPARE(events.at(i).toObject(), expected.at(i)); // order kept
}

// ---------------------------------------------------------------------------------------------
// Errors

void TestCodec::errorFrame_data()
{
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("httpStatus"); // -5: any 5xx

    // The contract's codes.
    QTest::newRow("INVALID_JSON") << int(ErrorCode::InvalidJson) << QStringLiteral("INVALID_JSON") << 400;
    QTest::newRow("INVALID_EVENT") << int(ErrorCode::InvalidEvent) << QStringLiteral("INVALID_EVENT") << 400;
    QTest::newRow("UNKNOWN_OP") << int(ErrorCode::UnknownOp) << QStringLiteral("UNKNOWN_OP") << 400;
    QTest::newRow("AUTH_REQUIRED") << int(ErrorCode::AuthRequired) << QStringLiteral("AUTH_REQUIRED") << 401;
    QTest::newRow("AUTH_FAILED") << int(ErrorCode::AuthFailed) << QStringLiteral("AUTH_FAILED") << 401;
    QTest::newRow("FORBIDDEN") << int(ErrorCode::Forbidden) << QStringLiteral("FORBIDDEN") << 403;
    QTest::newRow("RATE_LIMITED") << int(ErrorCode::RateLimited) << QStringLiteral("RATE_LIMITED") << 429;
    QTest::newRow("TOO_LARGE") << int(ErrorCode::TooLarge) << QStringLiteral("TOO_LARGE") << 413;
    QTest::newRow("UNKNOWN_RUN") << int(ErrorCode::UnknownRun) << QStringLiteral("UNKNOWN_RUN") << 404;
    // The server's extras (brief: unknown metric 404, unknown path 404, wrong method 405).
    QTest::newRow("UNKNOWN_METRIC") << int(ErrorCode::UnknownMetric) << QStringLiteral("UNKNOWN_METRIC") << 404;
    QTest::newRow("INVALID_REQUEST") << int(ErrorCode::InvalidRequest) << QStringLiteral("INVALID_REQUEST") << 400;
    QTest::newRow("STORE_FAILED") << int(ErrorCode::StoreFailed) << QStringLiteral("STORE_FAILED") << -5;
    QTest::newRow("NOT_FOUND") << int(ErrorCode::NotFound) << QStringLiteral("NOT_FOUND") << 404;
    QTest::newRow("METHOD_NOT_ALLOWED") << int(ErrorCode::MethodNotAllowed) << QStringLiteral("METHOD_NOT_ALLOWED") << 405;
}

void TestCodec::errorFrame()
{
    QFETCH(int, code);
    QFETCH(QString, name);
    QFETCH(int, httpStatus);
    const ErrorCode errorCode = static_cast<ErrorCode>(code);
    QCOMPARE(errorCodeName(errorCode), name);
    if (httpStatus == -5)
        QVERIFY2(httpStatusFor(errorCode) >= 500 && httpStatusFor(errorCode) <= 599,
                 qPrintable(QString::number(httpStatusFor(errorCode))));
    else
        QCOMPARE(httpStatusFor(errorCode), httpStatus);

    const QString message = QString::fromUtf8("something \"went\" wrong \xe2\x9c\x97");
    const QByteArray frame = Codec::errorFrame(Error{errorCode, message});
    QJsonParseError parseError{};
    const QJsonDocument doc = QJsonDocument::fromJson(frame, &parseError);
    QVERIFY2(parseError.error == QJsonParseError::NoError, frame.constData());
    const QJsonObject object = doc.object();
    QCOMPARE(object.value(QLatin1String("type")).toString(), QStringLiteral("error"));
    QCOMPARE(object.value(QLatin1String("code")).toString(), name);
    QCOMPARE(object.value(QLatin1String("message")).toString(), message);
    QVERIFY2(!object.contains(QLatin1String("id")), frame.constData());
}

void TestCodec::errorFrameId_data()
{
    QTest::addColumn<QByteArray>("id"); // JSON text of the id; empty: none
    QTest::addColumn<bool>("present");
    QTest::newRow("no id") << QByteArray() << false;
    QTest::newRow("null id") << QByteArray("null") << false;
    QTest::newRow("number id") << QByteArray("7") << true;
    QTest::newRow("string id") << QByteArray("\"req-1\"") << true;
    QTest::newRow("big number id") << QByteArray("123456789012") << true;
}

void TestCodec::errorFrameId()
{
    QFETCH(QByteArray, id);
    QFETCH(bool, present);
    const QJsonValue idValue = id.isEmpty() ? QJsonValue(QJsonValue::Undefined) : jsonValue(id);
    const QByteArray frame =
        Codec::errorFrame(Error{ErrorCode::UnknownOp, QStringLiteral("unknown op \"fly\"")}, idValue);
    const QJsonObject object = jsonObject(frame);
    QCOMPARE(object.value(QLatin1String("type")).toString(), QStringLiteral("error"));
    QCOMPARE(object.value(QLatin1String("code")).toString(), QStringLiteral("UNKNOWN_OP"));
    QCOMPARE(object.contains(QLatin1String("id")), present);
    if (present)
        QCOMPARE(object.value(QLatin1String("id")), idValue);
}

// ---------------------------------------------------------------------------------------------
// Timestamps

void TestCodec::formatTimestamp_data()
{
    QTest::addColumn<qint64>("ms");
    QTest::addColumn<QString>("text");
    QTest::newRow("epoch") << qint64(0) << QStringLiteral("1970-01-01T00:00:00.000Z");
    QTest::newRow("contract example") << qint64(1795435200123) << QStringLiteral("2026-11-23T12:00:00.123Z");
    QTest::newRow("whole second") << qint64(1795435200000) << QStringLiteral("2026-11-23T12:00:00.000Z");
    QTest::newRow("leap day") << qint64(1709251199999) << QStringLiteral("2024-02-29T23:59:59.999Z");
    QTest::newRow("2000-02-29") << qint64(951782400000) << QStringLiteral("2000-02-29T00:00:00.000Z");
    QTest::newRow("new year's eve") << qint64(1767223800000) << QStringLiteral("2025-12-31T23:30:00.000Z");
    QTest::newRow("one ms") << qint64(1) << QStringLiteral("1970-01-01T00:00:00.001Z");
    QTest::newRow("before the epoch") << qint64(-1) << QStringLiteral("1969-12-31T23:59:59.999Z");
}

void TestCodec::formatTimestamp()
{
    QFETCH(qint64, ms);
    QFETCH(QString, text);
    QCOMPARE(Codec::formatTimestamp(ms), text);
}

void TestCodec::formatTimestampMatchesReference()
{
    QRandomGenerator rng(20261123);
    for (int i = 0; i < 5000; ++i) {
        // 1970 .. ~2200
        const qint64 ms = qint64(rng.bounded(quint64(7258118400000ULL)));
        const QString text = Codec::formatTimestamp(ms);
        QVERIFY2(rfc3339Ms().match(text).hasMatch(), qPrintable(text));
        QCOMPARE(text, referenceTimestamp(ms));
    }
}

void TestCodec::parseTimestamp_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<qint64>("ms");

    const qint64 x = 1795435200123; // 2026-11-23T12:00:00.123Z
    QTest::newRow("Z with ms") << QStringLiteral("2026-11-23T12:00:00.123Z") << true << x;
    QTest::newRow("Z without ms") << QStringLiteral("2026-11-23T12:00:00Z") << true << x - 123;
    QTest::newRow("one fraction digit") << QStringLiteral("2026-11-23T12:00:00.1Z") << true << x - 23;
    QTest::newRow("microseconds") << QStringLiteral("2026-11-23T12:00:00.123456Z") << true << x;
    QTest::newRow("nanoseconds") << QStringLiteral("2026-11-23T12:00:00.123000001Z") << true << x;
    QTest::newRow("+00:00") << QStringLiteral("2026-11-23T12:00:00.123+00:00") << true << x;
    QTest::newRow("-00:00") << QStringLiteral("2026-11-23T12:00:00.123-00:00") << true << x;
    QTest::newRow("+02:00") << QStringLiteral("2026-11-23T14:00:00.123+02:00") << true << x;
    QTest::newRow("-05:30") << QStringLiteral("2026-11-23T06:30:00.123-05:30") << true << x;
    QTest::newRow("+13:00 next day") << QStringLiteral("2026-11-24T01:00:00.123+13:00") << true << x;
    QTest::newRow("offset without ms") << QStringLiteral("2026-01-01T00:30:00+01:00") << true << qint64(1767223800000);
    QTest::newRow("lowercase t and z") << QStringLiteral("2026-11-23t12:00:00.123z") << true << x;
    QTest::newRow("epoch") << QStringLiteral("1970-01-01T00:00:00Z") << true << qint64(0);
    QTest::newRow("before the epoch") << QStringLiteral("1969-12-31T23:59:59.999Z") << true << qint64(-1);
    QTest::newRow("leap day") << QStringLiteral("2024-02-29T23:59:59.999Z") << true << qint64(1709251199999);

    QTest::newRow("empty") << QString() << false << qint64(0);
    QTest::newRow("garbage") << QStringLiteral("yesterday at noon") << false << qint64(0);
    QTest::newRow("date only") << QStringLiteral("2026-11-23") << false << qint64(0);
    QTest::newRow("no zone") << QStringLiteral("2026-11-23T12:00:00") << false << qint64(0);
    QTest::newRow("no zone with ms") << QStringLiteral("2026-11-23T12:00:00.123") << false << qint64(0);
    QTest::newRow("dot without digits") << QStringLiteral("2026-11-23T12:00:00.Z") << false << qint64(0);
    QTest::newRow("month 13") << QStringLiteral("2026-13-01T00:00:00Z") << false << qint64(0);
    QTest::newRow("month 0") << QStringLiteral("2026-00-10T00:00:00Z") << false << qint64(0);
    QTest::newRow("day 32") << QStringLiteral("2026-11-32T00:00:00Z") << false << qint64(0);
    QTest::newRow("day 0") << QStringLiteral("2026-11-00T00:00:00Z") << false << qint64(0);
    QTest::newRow("February 30") << QStringLiteral("2026-02-30T00:00:00Z") << false << qint64(0);
    QTest::newRow("February 29 of a common year") << QStringLiteral("2025-02-29T00:00:00Z") << false << qint64(0);
    QTest::newRow("November 31") << QStringLiteral("2026-11-31T00:00:00Z") << false << qint64(0);
    QTest::newRow("hour 24") << QStringLiteral("2026-11-23T24:00:00Z") << false << qint64(0);
    QTest::newRow("minute 60") << QStringLiteral("2026-11-23T12:60:00Z") << false << qint64(0);
    QTest::newRow("second 61") << QStringLiteral("2026-11-23T12:00:61Z") << false << qint64(0);
    QTest::newRow("offset without colon") << QStringLiteral("2026-11-23T12:00:00+0200") << false << qint64(0);
    QTest::newRow("offset hours only") << QStringLiteral("2026-11-23T12:00:00+02") << false << qint64(0);
    QTest::newRow("offset minute 60") << QStringLiteral("2026-11-23T12:00:00+02:60") << false << qint64(0);
    QTest::newRow("trailing junk") << QStringLiteral("2026-11-23T12:00:00Zjunk") << false << qint64(0);
    QTest::newRow("trailing space") << QStringLiteral("2026-11-23T12:00:00Z ") << false << qint64(0);
    QTest::newRow("two-digit year") << QStringLiteral("26-11-23T12:00:00Z") << false << qint64(0);
    QTest::newRow("slashes") << QStringLiteral("2026/11/23T12:00:00Z") << false << qint64(0);
    QTest::newRow("single-digit month") << QStringLiteral("2026-1-23T12:00:00Z") << false << qint64(0);
    QTest::newRow("epoch number as text") << QStringLiteral("1795435200123") << false << qint64(0);
}

void TestCodec::parseTimestamp()
{
    QFETCH(QString, text);
    QFETCH(bool, ok);
    QFETCH(qint64, ms);
    qint64 out = -424242;
    QCOMPARE(Codec::parseTimestamp(text, &out), ok);
    if (ok)
        QCOMPARE(out, ms);
}

void TestCodec::timestampRoundTrip()
{
    QRandomGenerator rng(7);
    for (int i = 0; i < 5000; ++i) {
        const qint64 ms = qint64(rng.bounded(quint64(7258118400000ULL)));
        qint64 back = -1;
        const QString text = Codec::formatTimestamp(ms);
        QVERIFY2(Codec::parseTimestamp(text, &back), qPrintable(text));
        QCOMPARE(back, ms);
    }
}

QTEST_GUILESS_MAIN(TestCodec)
#include "tst_codec.moc"
