// Unit tests of RunState (server/model/runstate.h): what the server derives about one run from the
// contract's events (protocol.md, "Event types a producer sends" and GET /api/runs summaries).

#include "codec.h"
#include "runstate.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include <cmath>
#include <limits>

using namespace Runwatch;

namespace {

constexpr qint64 T0 = 1795435200000; // 2026-11-23T12:00:00.000Z

QJsonObject obj(const QByteArray &json)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(json, &error);
    return doc.object();
}

// Feeds events to a RunState the way the server does: through the codec's validation,
// with increasing seqs.
class Feeder
{
public:
    explicit Feeder(const QString &run = QStringLiteral("r1")) : state(run), m_run(run) {}

    // Returns false (and records why) when the codec refuses the event.
    bool apply(const QString &type, const QJsonObject &data, qint64 tsMs,
               const QString &step = QString())
    {
        QJsonObject object{{QStringLiteral("run"), m_run},
                           {QStringLiteral("type"), type},
                           {QStringLiteral("data"), data}};
        if (!step.isEmpty())
            object.insert(QStringLiteral("step"), step);
        object.insert(QStringLiteral("ts"), Codec::formatTimestamp(tsMs));
        Event event;
        const Error error = Codec::parseEvent(object, tsMs, &event);
        if (error) {
            lastError = error.message;
            return false;
        }
        event.seq = ++m_seq;
        Codec::serializeEnvelope(&event);
        state.apply(event);
        return true;
    }
    bool apply(const char *type, const QByteArray &data, qint64 tsMs, const char *step = nullptr)
    {
        return apply(QString::fromLatin1(type), obj(data), tsMs,
                     step ? QString::fromLatin1(step) : QString());
    }

    // The summary as a client receives it: serialized to JSON text and parsed back.
    QJsonObject wireSummary(bool withSteps = false) const
    {
        const QByteArray text = Codec::compact(state.summary(withSteps));
        return QJsonDocument::fromJson(text).object();
    }

    qint64 seq() const { return m_seq; }

    RunState state;
    QString lastError;

private:
    QString m_run;
    qint64 m_seq = 0;
};

#define FEED(feeder, ...) QVERIFY2((feeder).apply(__VA_ARGS__), qPrintable((feeder).lastError))

QString ts(qint64 ms)
{
    return Codec::formatTimestamp(ms);
}

bool isNull(const QJsonObject &object, const char *key)
{
    const QJsonValue v = object.value(QLatin1String(key));
    return v.isNull() || v.isUndefined();
}

double num(const QJsonObject &object, const char *key)
{
    return object.value(QLatin1String(key)).toDouble(std::numeric_limits<double>::quiet_NaN());
}

QJsonObject findStep(const QJsonObject &summary, const QString &id)
{
    for (const QJsonValue &v : summary.value(QLatin1String("steps")).toArray()) {
        if (v.toObject().value(QLatin1String("id")).toString() == id)
            return v.toObject();
    }
    return {};
}

} // namespace

class TestRunState : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void freshRun();
    void statusTransitions_data();
    void statusTransitions();
    void progressFraction_data();
    void progressFraction();
    void epochsAndEta();
    void currentStepFollowsMetrics();
    void metricSeriesWithStep();
    void metricSeriesWithoutStep();
    void metricSeriesNonFinite();
    void latestValues_data();
    void latestValues();
    void stepsTable();
    void stepFailedAndCounts();
    void errorAndResultCounters();
    void tokenOutput();
    void outputIsBounded();
    void startedAndEndedTimes();
    void summaryFields();
    void customEventsCounted();
};

void TestRunState::freshRun()
{
    RunState state(QStringLiteral("fresh"));
    QCOMPARE(state.id(), QStringLiteral("fresh"));
    QCOMPARE(state.eventCount(), 0);
    QCOMPARE(state.errorCount(), 0);
    QVERIFY(!state.isFinished());
    QVERIFY(state.metricNames().isEmpty());
    QVERIFY(state.steps().isEmpty());
    QVERIFY(state.output().isEmpty());
    const QJsonObject summary = state.summary();
    QCOMPARE(summary.value(QLatin1String("id")).toString(), QStringLiteral("fresh"));
    QCOMPARE(num(summary, "event_count"), 0.0);
    QCOMPARE(num(summary, "error_count"), 0.0);
    QVERIFY(isNull(summary, "ended_at"));
    QVERIFY(summary.value(QLatin1String("metrics")).toObject().isEmpty());
}

void TestRunState::statusTransitions_data()
{
    QTest::addColumn<QByteArray>("events"); // [[type, data], ...], one second apart
    QTest::addColumn<QString>("status");
    QTest::addColumn<bool>("finished");
    QTest::addColumn<int>("endedAt"); // index of the event whose ts is ended_at; -1: none

    QTest::newRow("run_started") << QByteArray(R"([["run_started",{}]])") << QStringLiteral("running") << false << -1;
    QTest::newRow("paused") << QByteArray(R"([["run_started",{}],["run_status",{"status":"paused"}]])")
                            << QStringLiteral("paused") << false << -1;
    QTest::newRow("paused then running")
        << QByteArray(R"([["run_started",{}],["run_status",{"status":"paused"}],["run_status",{"status":"running"}]])")
        << QStringLiteral("running") << false << -1;
    QTest::newRow("pending") << QByteArray(R"([["run_status",{"status":"pending"}]])")
                             << QStringLiteral("pending") << false << -1;
    QTest::newRow("cancelled") << QByteArray(R"([["run_started",{}],["run_status",{"status":"cancelled"}]])")
                               << QStringLiteral("cancelled") << true << 1;
    QTest::newRow("status completed") << QByteArray(R"([["run_started",{}],["run_status",{"status":"completed"}]])")
                                      << QStringLiteral("completed") << true << 1;
    QTest::newRow("status failed") << QByteArray(R"([["run_started",{}],["run_status",{"status":"failed"}]])")
                                   << QStringLiteral("failed") << true << 1;
    QTest::newRow("run_completed")
        << QByteArray(R"([["run_started",{}],["metric",{"loss":1}],["run_completed",{}]])")
        << QStringLiteral("completed") << true << 2;
    QTest::newRow("run_completed with summary")
        << QByteArray(R"([["run_started",{}],["run_completed",{"summary":{"acc":0.9}}]])")
        << QStringLiteral("completed") << true << 1;
    QTest::newRow("run_failed") << QByteArray(R"([["run_started",{}],["run_failed",{"message":"oom"}]])")
                                << QStringLiteral("failed") << true << 1;
    QTest::newRow("restarted after completion")
        << QByteArray(R"([["run_started",{}],["run_completed",{}],["run_started",{}]])")
        << QStringLiteral("running") << false << -1;
    QTest::newRow("resumed by status after failure")
        << QByteArray(R"([["run_started",{}],["run_failed",{}],["run_status",{"status":"running"}]])")
        << QStringLiteral("running") << false << -1;
    QTest::newRow("metric only") << QByteArray(R"([["metric",{"loss":1}]])") << QStringLiteral("running") << false << -1;
}

void TestRunState::statusTransitions()
{
    QFETCH(QByteArray, events);
    QFETCH(QString, status);
    QFETCH(bool, finished);
    QFETCH(int, endedAt);

    Feeder f;
    const QJsonArray list = QJsonDocument::fromJson(events).array();
    QVERIFY(!list.isEmpty());
    for (int i = 0; i < list.size(); ++i) {
        const QJsonArray pair = list.at(i).toArray();
        FEED(f, pair.at(0).toString(), pair.at(1).toObject(), T0 + i * 1000);
    }
    QCOMPARE(f.state.status(), status);
    QCOMPARE(f.state.isFinished(), finished);
    const QJsonObject summary = f.wireSummary();
    QCOMPARE(summary.value(QLatin1String("status")).toString(), status);
    if (endedAt < 0) {
        QVERIFY(isNull(summary, "ended_at"));
    } else {
        QCOMPARE(summary.value(QLatin1String("ended_at")).toString(), ts(T0 + endedAt * 1000));
        QCOMPARE(f.state.endedMs(), T0 + endedAt * 1000);
    }
    QCOMPARE(f.state.eventCount(), qint64(list.size()));
}

void TestRunState::progressFraction_data()
{
    QTest::addColumn<QByteArray>("events");
    QTest::addColumn<double>("progress"); // -1: null
    QTest::addColumn<double>("completed");
    QTest::addColumn<double>("total");

    QTest::newRow("quarter") << QByteArray(R"([["progress",{"completed":25,"total":100}]])") << 0.25 << 25.0 << 100.0;
    QTest::newRow("zero") << QByteArray(R"([["progress",{"completed":0,"total":10}]])") << 0.0 << 0.0 << 10.0;
    QTest::newRow("all") << QByteArray(R"([["progress",{"completed":10,"total":10}]])") << 1.0 << 10.0 << 10.0;
    QTest::newRow("latest wins")
        << QByteArray(R"([["progress",{"completed":1,"total":4}],["progress",{"completed":3,"total":4}]])")
        << 0.75 << 3.0 << 4.0;
    QTest::newRow("fractional") << QByteArray(R"([["progress",{"completed":0.5,"total":2}]])") << 0.25 << 0.5 << 2.0;
    QTest::newRow("total from run_started")
        << QByteArray(R"([["run_started",{"total_steps":200}],["progress",{"completed":50}]])") << 0.25 << 50.0 << 200.0;
    QTest::newRow("total changes")
        << QByteArray(R"([["progress",{"completed":5,"total":10}],["progress",{"completed":5,"total":20}]])")
        << 0.25 << 5.0 << 20.0;
    // Finishing does not make the figures up: a run that stopped at 3 of 10 stays at 30 %.
    QTest::newRow("completed run keeps its progress")
        << QByteArray(R"([["run_started",{}],["progress",{"completed":3,"total":10}],["run_completed",{}]])")
        << 0.3 << 3.0 << 10.0;
    QTest::newRow("completed run without a total is done")
        << QByteArray(R"([["run_started",{}],["run_completed",{}]])")
        << 1.0 << -1.0 << -1.0;
    QTest::newRow("320,000 of 1,000,000, then completed")
        << QByteArray(R"([["run_started",{"total_steps":1000000}],["progress",{"completed":320000}],["run_completed",{}]])")
        << 0.32 << 320000.0 << 1000000.0;
    QTest::newRow("failed at 40 %")
        << QByteArray(R"([["progress",{"completed":4,"total":10}],["run_failed",{"message":"oom"}]])")
        << 0.4 << 4.0 << 10.0;
    QTest::newRow("completed in full")
        << QByteArray(R"([["progress",{"completed":10,"total":10}],["run_completed",{}]])")
        << 1.0 << 10.0 << 10.0;
    QTest::newRow("no progress yet") << QByteArray(R"([["run_started",{}]])") << -1.0 << -1.0 << -1.0;
}

void TestRunState::progressFraction()
{
    QFETCH(QByteArray, events);
    QFETCH(double, progress);
    QFETCH(double, completed);
    QFETCH(double, total);

    Feeder f;
    const QJsonArray list = QJsonDocument::fromJson(events).array();
    for (int i = 0; i < list.size(); ++i) {
        const QJsonArray pair = list.at(i).toArray();
        FEED(f, pair.at(0).toString(), pair.at(1).toObject(), T0 + i);
    }
    const QJsonObject summary = f.wireSummary();
    if (progress < 0)
        QVERIFY(isNull(summary, "progress"));
    else
        QCOMPARE(num(summary, "progress"), progress);
    // A run that ended short of its total says so.
    const QString status = summary.value(QStringLiteral("status")).toString();
    const bool ended = status == QLatin1String("completed") || status == QLatin1String("failed");
    QCOMPARE(summary.value(QStringLiteral("stopped_early")).toBool(), ended && completed >= 0 && completed < total);
    if (completed >= 0) {
        QCOMPARE(num(summary, "completed"), completed);
        QCOMPARE(num(summary, "total"), total);
    }
}

void TestRunState::epochsAndEta()
{
    Feeder f;
    FEED(f, "run_started", R"({"name":"n","kind":"training","total_epochs":3})", T0);
    QJsonObject summary = f.wireSummary();
    QCOMPARE(num(summary, "total_epochs"), 3.0);
    QVERIFY(isNull(summary, "current_epoch"));
    QVERIFY(isNull(summary, "eta_s"));

    FEED(f, "progress", R"({"completed":10,"total":100,"epoch":1,"total_epochs":5,"eta_s":90.5})", T0 + 1);
    summary = f.wireSummary();
    QCOMPARE(num(summary, "current_epoch"), 1.0);
    QCOMPARE(num(summary, "total_epochs"), 5.0);
    QCOMPARE(num(summary, "eta_s"), 90.5);

    FEED(f, "progress", R"({"completed":60,"total":100,"epoch":2.5,"eta_s":12})", T0 + 2);
    summary = f.wireSummary();
    QCOMPARE(num(summary, "current_epoch"), 2.5);
    QCOMPARE(num(summary, "total_epochs"), 5.0);
    QCOMPARE(num(summary, "eta_s"), 12.0);
    QCOMPARE(num(summary, "progress"), 0.6);

    FEED(f, "progress", R"({"completed":100,"total":100,"epoch":5,"eta_s":0})", T0 + 3);
    summary = f.wireSummary();
    QCOMPARE(num(summary, "eta_s"), 0.0);
    QCOMPARE(num(summary, "current_epoch"), 5.0);
    QCOMPARE(num(summary, "progress"), 1.0);
}

void TestRunState::currentStepFollowsMetrics()
{
    Feeder f;
    FEED(f, "metric", R"({"step":10,"loss":1})", T0);
    QCOMPARE(num(f.wireSummary(), "current_step"), 10.0);
    FEED(f, "metric", R"({"step":20,"loss":0.5})", T0 + 1);
    QCOMPARE(num(f.wireSummary(), "current_step"), 20.0);
    // A late evaluation metric for an older step does not move the run backwards.
    FEED(f, "metric", R"({"step":15,"eval_loss":0.7})", T0 + 2);
    QCOMPARE(num(f.wireSummary(), "current_step"), 20.0);
}

void TestRunState::metricSeriesWithStep()
{
    Feeder f;
    FEED(f, "metric", R"({"step":0,"loss":2.0,"lr":0.1})", T0);
    FEED(f, "metric", R"({"step":10,"loss":1.5})", T0 + 100);
    FEED(f, "metric", R"({"step":20,"loss":1.25,"lr":0.05})", T0 + 200);
    FEED(f, "metric", R"({"step":20,"eval_loss":1.4})", T0 + 300);

    QStringList names = f.state.metricNames();
    names.sort();
    QCOMPARE(names, (QStringList{QStringLiteral("eval_loss"), QStringLiteral("loss"), QStringLiteral("lr")}));
    QVERIFY(!names.contains(QStringLiteral("step")));

    const MetricSeries *loss = f.state.series(QStringLiteral("loss"));
    QVERIFY(loss);
    QCOMPARE(loss->size(), qsizetype(3));
    QCOMPARE(loss->steps, (QVector<qint64>{0, 10, 20}));
    QCOMPARE(loss->values, (QVector<double>{2.0, 1.5, 1.25}));
    QCOMPARE(loss->tsMs, (QVector<qint64>{T0, T0 + 100, T0 + 200}));

    const MetricSeries *lr = f.state.series(QStringLiteral("lr"));
    QVERIFY(lr);
    QCOMPARE(lr->steps, (QVector<qint64>{0, 20}));
    QCOMPARE(lr->values, (QVector<double>{0.1, 0.05}));

    const MetricSeries *eval = f.state.series(QStringLiteral("eval_loss"));
    QVERIFY(eval);
    QCOMPARE(eval->steps, (QVector<qint64>{20}));
    QCOMPARE(eval->tsMs, (QVector<qint64>{T0 + 300}));

    QVERIFY(!f.state.series(QStringLiteral("nope")));
    QVERIFY(!f.state.series(QStringLiteral("step")));
}

void TestRunState::metricSeriesWithoutStep()
{
    Feeder f;
    for (int i = 0; i < 5; ++i)
        FEED(f, QStringLiteral("metric"), QJsonObject{{QStringLiteral("reward"), i * 2.0}}, T0 + i);
    const MetricSeries *reward = f.state.series(QStringLiteral("reward"));
    QVERIFY(reward);
    QCOMPARE(reward->size(), qsizetype(5));
    QCOMPARE(reward->values, (QVector<double>{0, 2, 4, 6, 8}));
    QCOMPARE(reward->tsMs, (QVector<qint64>{T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4}));
    // docs/protocol.md: points without a step use the event's position in the series.
    QCOMPARE(reward->steps, (QVector<qint64>{0, 1, 2, 3, 4}));
}

void TestRunState::metricSeriesNonFinite()
{
    Feeder f;
    FEED(f, "metric", R"({"step":1,"loss":"NaN"})", T0);
    FEED(f, "metric", R"({"step":2,"loss":"Infinity"})", T0 + 1);
    FEED(f, "metric", R"({"step":3,"loss":"-Infinity"})", T0 + 2);
    FEED(f, "metric", R"({"step":4,"loss":0.5})", T0 + 3);
    const MetricSeries *loss = f.state.series(QStringLiteral("loss"));
    QVERIFY(loss);
    QCOMPARE(loss->size(), qsizetype(4));
    QVERIFY(std::isnan(loss->values.at(0)));
    QVERIFY(std::isinf(loss->values.at(1)) && loss->values.at(1) > 0);
    QVERIFY(std::isinf(loss->values.at(2)) && loss->values.at(2) < 0);
    QCOMPARE(loss->values.at(3), 0.5);
    QCOMPARE(loss->steps, (QVector<qint64>{1, 2, 3, 4}));
}

void TestRunState::latestValues_data()
{
    QTest::addColumn<QByteArray>("metrics"); // [data, ...]
    QTest::addColumn<QByteArray>("expected"); // the summary's "metrics" object on the wire

    QTest::newRow("numbers") << QByteArray(R"([{"step":1,"loss":2,"acc":0.5},{"step":2,"loss":1.5}])")
                             << QByteArray(R"({"loss":1.5,"acc":0.5})");
    QTest::newRow("NaN") << QByteArray(R"([{"loss":1},{"loss":"NaN"}])") << QByteArray(R"({"loss":"NaN"})");
    QTest::newRow("Infinity") << QByteArray(R"([{"loss":"Infinity"}])") << QByteArray(R"({"loss":"Infinity"})");
    QTest::newRow("-Infinity") << QByteArray(R"([{"reward":"-Infinity"}])") << QByteArray(R"({"reward":"-Infinity"})");
    QTest::newRow("recovered after NaN") << QByteArray(R"([{"loss":"NaN"},{"loss":0.25}])") << QByteArray(R"({"loss":0.25})");
    QTest::newRow("mixed") << QByteArray(R"([{"a":"NaN","b":"Infinity","c":"-Infinity","d":-7}])")
                           << QByteArray(R"({"a":"NaN","b":"Infinity","c":"-Infinity","d":-7})");
    QTest::newRow("step is not a metric") << QByteArray(R"([{"step":5,"x":1}])") << QByteArray(R"({"x":1})");
}

void TestRunState::latestValues()
{
    QFETCH(QByteArray, metrics);
    QFETCH(QByteArray, expected);
    Feeder f;
    const QJsonArray list = QJsonDocument::fromJson(metrics).array();
    QVERIFY(!list.isEmpty());
    for (int i = 0; i < list.size(); ++i)
        FEED(f, QStringLiteral("metric"), list.at(i).toObject(), T0 + i);
    // Through JSON text, as GET /api/runs delivers it: a NaN must not turn into null.
    const QJsonObject summary = f.wireSummary();
    QCOMPARE(summary.value(QLatin1String("metrics")).toObject(), obj(expected));
}

void TestRunState::stepsTable()
{
    Feeder f;
    FEED(f, "run_started", R"({"name":"pipeline","kind":"workflow"})", T0);
    FEED(f, "step_started", R"({"name":"Load data"})", T0 + 1000, "load");
    FEED(f, "step_started", R"({"name":"Train"})", T0 + 2000, "train");
    FEED(f, "step_progress", R"({"progress":0.5,"message":"half way"})", T0 + 3000, "train");
    FEED(f, "step_completed", R"({"result":{"rows":1000}})", T0 + 4000, "load");

    QCOMPARE(f.state.steps().size(), qsizetype(2));
    QJsonObject summary = f.wireSummary(true);
    QVERIFY(summary.value(QLatin1String("steps")).isArray());
    const QJsonArray steps = summary.value(QLatin1String("steps")).toArray();
    QCOMPARE(steps.size(), qsizetype(2));
    // Order of first appearance.
    QCOMPARE(steps.at(0).toObject().value(QLatin1String("id")).toString(), QStringLiteral("load"));
    QCOMPARE(steps.at(1).toObject().value(QLatin1String("id")).toString(), QStringLiteral("train"));

    const QJsonObject load = findStep(summary, QStringLiteral("load"));
    QCOMPARE(load.value(QLatin1String("name")).toString(), QStringLiteral("Load data"));
    QCOMPARE(load.value(QLatin1String("status")).toString(), QStringLiteral("completed"));
    QCOMPARE(num(load, "progress"), 1.0);
    QCOMPARE(load.value(QLatin1String("started_at")).toString(), ts(T0 + 1000));
    QCOMPARE(load.value(QLatin1String("ended_at")).toString(), ts(T0 + 4000));
    QCOMPARE(load.value(QLatin1String("result")).toObject(), obj(R"({"rows":1000})"));

    const QJsonObject train = findStep(summary, QStringLiteral("train"));
    QCOMPARE(train.value(QLatin1String("name")).toString(), QStringLiteral("Train"));
    QCOMPARE(train.value(QLatin1String("status")).toString(), QStringLiteral("running"));
    QCOMPARE(num(train, "progress"), 0.5);
    QCOMPARE(train.value(QLatin1String("message")).toString(), QStringLiteral("half way"));
    QCOMPARE(train.value(QLatin1String("started_at")).toString(), ts(T0 + 2000));
    QVERIFY(isNull(train, "ended_at"));

    // The plain summary leaves the table out.
    QVERIFY(!f.wireSummary(false).contains(QLatin1String("steps")));

    // Progress updates move the same row; they never add one.
    FEED(f, "step_progress", R"({"progress":0.75})", T0 + 5000, "train");
    QCOMPARE(f.state.steps().size(), qsizetype(2));
    QCOMPARE(num(findStep(f.wireSummary(true), QStringLiteral("train")), "progress"), 0.75);
}

void TestRunState::stepFailedAndCounts()
{
    Feeder f;
    FEED(f, "step_started", R"({})", T0, "a");
    FEED(f, "step_started", R"({})", T0 + 1, "b");
    FEED(f, "step_started", R"({})", T0 + 2, "c");
    FEED(f, "step_completed", R"({})", T0 + 3, "a");
    FEED(f, "step_failed", R"({"message":"disk full"})", T0 + 4, "b");
    // A step first heard of through step_progress still appears.
    FEED(f, "step_progress", R"({"progress":0.1})", T0 + 5, "d");

    const QJsonObject summary = f.wireSummary(true);
    const QJsonObject b = findStep(summary, QStringLiteral("b"));
    QCOMPARE(b.value(QLatin1String("status")).toString(), QStringLiteral("failed"));
    QCOMPARE(b.value(QLatin1String("message")).toString(), QStringLiteral("disk full"));
    QCOMPARE(b.value(QLatin1String("ended_at")).toString(), ts(T0 + 4));
    const QJsonObject d = findStep(summary, QStringLiteral("d"));
    QCOMPARE(d.value(QLatin1String("id")).toString(), QStringLiteral("d"));
    QCOMPARE(d.value(QLatin1String("status")).toString(), QStringLiteral("running"));
    QCOMPARE(num(d, "progress"), 0.1);

    const QJsonObject counts = summary.value(QLatin1String("step_counts")).toObject();
    QCOMPARE(num(counts, "total"), 4.0);
    QCOMPARE(num(counts, "completed"), 1.0);
    QCOMPARE(num(counts, "failed"), 1.0);
    QCOMPARE(num(counts, "running"), 2.0);

    // A step restarted after failing runs again.
    FEED(f, "step_started", R"({})", T0 + 6, "b");
    const QJsonObject again = findStep(f.wireSummary(true), QStringLiteral("b"));
    QCOMPARE(again.value(QLatin1String("status")).toString(), QStringLiteral("running"));
    QVERIFY(isNull(again, "ended_at"));
}

void TestRunState::errorAndResultCounters()
{
    Feeder f;
    FEED(f, "run_started", R"({"kind":"evaluation"})", T0);
    FEED(f, "result", R"({"input":"2+2","output":"4","correct":true})", T0 + 1);
    FEED(f, "result", R"({"input":"3+3","output":"6"})", T0 + 2);
    QCOMPARE(f.state.errorCount(), 0);
    QJsonObject summary = f.wireSummary();
    QCOMPARE(num(summary, "result_count"), 2.0);
    QCOMPARE(num(summary, "error_count"), 0.0);

    FEED(f, "result", R"({"input":"x","error":"timeout"})", T0 + 3);
    summary = f.wireSummary();
    QCOMPARE(num(summary, "result_count"), 3.0);
    QCOMPARE(num(summary, "error_count"), 1.0);

    FEED(f, "error", R"({"message":"CUDA out of memory","code":"OOM"})", T0 + 4);
    QCOMPARE(f.state.errorCount(), 2);
    summary = f.wireSummary();
    QCOMPARE(num(summary, "error_count"), 2.0);
    QCOMPARE(num(summary, "result_count"), 3.0);
    QCOMPARE(summary.value(QLatin1String("last_error")).toString(), QStringLiteral("CUDA out of memory"));

    FEED(f, "error", R"({"message":"second"})", T0 + 5);
    QCOMPARE(num(f.wireSummary(), "error_count"), 3.0);
    QCOMPARE(f.wireSummary().value(QLatin1String("last_error")).toString(), QStringLiteral("second"));
    // An error event does not end the run.
    QCOMPARE(f.state.status(), QStringLiteral("running"));
}

void TestRunState::tokenOutput()
{
    Feeder f;
    FEED(f, "token", R"({"text":"Hel"})", T0);
    FEED(f, "token", R"({"text":"lo, "})", T0 + 1);
    FEED(f, "token", R"({"text":"w\u00f6rld \u2713\n","stream":"stdout"})", T0 + 2);
    FEED(f, "token", R"({"text":""})", T0 + 3);
    FEED(f, "token", R"({"text":"!"})", T0 + 4);
    QCOMPARE(f.state.output(), QString::fromUtf8("Hello, w\xc3\xb6rld \xe2\x9c\x93\n!"));
    QCOMPARE(f.state.eventCount(), 5);
    // Tokens are not metrics and not errors.
    QVERIFY(f.state.metricNames().isEmpty());
    QCOMPARE(f.state.errorCount(), 0);
}

void TestRunState::outputIsBounded()
{
    Feeder f;
    const QString chunk(256 * 1024, QLatin1Char('x'));
    const int chunks = int(RunState::MaxOutputChars / chunk.size()) + 4;
    for (int i = 0; i < chunks; ++i)
        FEED(f, QStringLiteral("token"), QJsonObject{{QStringLiteral("text"), chunk}}, T0 + i);
    FEED(f, "token", R"({"text":"THE END"})", T0 + chunks);
    QVERIFY(f.state.output().size() <= RunState::MaxOutputChars);
    QVERIFY(f.state.output().endsWith(QLatin1String("xxxTHE END")));
}

void TestRunState::startedAndEndedTimes()
{
    Feeder f;
    FEED(f, "run_started", R"({"name":"n"})", T0 + 5000);
    FEED(f, "metric", R"({"loss":1})", T0 + 6000);
    QJsonObject summary = f.wireSummary();
    QCOMPARE(summary.value(QLatin1String("started_at")).toString(), ts(T0 + 5000));
    QCOMPARE(f.state.startedMs(), T0 + 5000);
    QVERIFY(isNull(summary, "ended_at"));
    QCOMPARE(f.state.endedMs(), 0);
    QCOMPARE(f.state.updatedMs(), T0 + 6000);

    FEED(f, "run_completed", R"({})", T0 + 9000);
    summary = f.wireSummary();
    QCOMPARE(summary.value(QLatin1String("started_at")).toString(), ts(T0 + 5000));
    QCOMPARE(summary.value(QLatin1String("ended_at")).toString(), ts(T0 + 9000));
    QCOMPARE(f.state.endedMs(), T0 + 9000);

    // An event after the end (late log line) does not change when the run ended.
    FEED(f, "log", R"({"level":"info","message":"bye"})", T0 + 9500);
    QCOMPARE(f.wireSummary().value(QLatin1String("ended_at")).toString(), ts(T0 + 9000));
    QCOMPARE(f.state.status(), QStringLiteral("completed"));
}

void TestRunState::summaryFields()
{
    Feeder f(QStringLiteral("bert-large.1"));
    FEED(f, "run_started",
         R"({"name":"BERT large","kind":"training","config":{"lr":0.001,"batch":32},"total_steps":1000,"total_epochs":3,"tags":["nlp","big"]})",
         T0);
    FEED(f, "progress", R"({"completed":250,"total":1000,"epoch":1})", T0 + 1000);
    FEED(f, "metric", R"({"step":250,"loss":0.75,"samples_per_second":812.5})", T0 + 1001);
    FEED(f, "error", R"({"message":"grad overflow"})", T0 + 1002);
    FEED(f, "run_status", R"({"status":"paused","message":"preempted"})", T0 + 1003);

    const QJsonObject s = f.wireSummary();
    // The fields GET /api/runs promises.
    for (const char *key : {"id", "name", "kind", "status", "progress", "current_step", "current_epoch",
                            "metrics", "started_at", "ended_at", "event_count", "error_count"})
        QVERIFY2(s.contains(QLatin1String(key)), key);
    QCOMPARE(s.value(QLatin1String("id")).toString(), QStringLiteral("bert-large.1"));
    QCOMPARE(s.value(QLatin1String("name")).toString(), QStringLiteral("BERT large"));
    QCOMPARE(s.value(QLatin1String("kind")).toString(), QStringLiteral("training"));
    QCOMPARE(s.value(QLatin1String("status")).toString(), QStringLiteral("paused"));
    QCOMPARE(num(s, "progress"), 0.25);
    QCOMPARE(num(s, "current_step"), 250.0);
    QCOMPARE(num(s, "current_epoch"), 1.0);
    QCOMPARE(num(s, "total_epochs"), 3.0);
    QCOMPARE(s.value(QLatin1String("metrics")).toObject(),
             obj(R"({"loss":0.75,"samples_per_second":812.5})"));
    QCOMPARE(s.value(QLatin1String("started_at")).toString(), ts(T0));
    QVERIFY(isNull(s, "ended_at"));
    QCOMPARE(num(s, "event_count"), 5.0);
    QCOMPARE(num(s, "error_count"), 1.0);
    QCOMPARE(s.value(QLatin1String("config")).toObject(), obj(R"({"lr":0.001,"batch":32})"));
    QCOMPARE(s.value(QLatin1String("tags")).toArray(), QJsonArray({QStringLiteral("nlp"), QStringLiteral("big")}));
    QCOMPARE(s.value(QLatin1String("status_message")).toString(), QStringLiteral("preempted"));
    QCOMPARE(num(s, "last_seq"), double(f.seq()));
    QCOMPARE(f.state.lastSeq(), f.seq());

    // A run without a name is shown by its id.
    Feeder g(QStringLiteral("anon"));
    FEED(g, "run_started", R"({})", T0);
    QCOMPARE(g.wireSummary().value(QLatin1String("name")).toString(), QStringLiteral("anon"));
}

void TestRunState::customEventsCounted()
{
    Feeder f;
    FEED(f, "quality_check", R"({"score":0.3})", T0);
    FEED(f, "agent_spawned", R"({"agent":"x"})", T0 + 1);
    FEED(f, "log", R"({"level":"info","message":"m"})", T0 + 2);
    QCOMPARE(f.state.eventCount(), 3);
    QCOMPARE(f.state.lastSeq(), 3);
    QCOMPARE(f.state.errorCount(), 0);
    QVERIFY(f.state.metricNames().isEmpty());
    QCOMPARE(num(f.wireSummary(), "event_count"), 3.0);
    QCOMPARE(f.wireSummary().value(QLatin1String("updated_at")).toString(), ts(T0 + 2));
}

QTEST_GUILESS_MAIN(TestRunState)
#include "tst_runstate.moc"
