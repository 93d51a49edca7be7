#pragma once

#include "event.h"

#include <QDataStream>
#include <QHash>
#include <QJsonObject>
#include <QStringList>
#include <QVector>

#include <map>

namespace Runwatch {

// One metric's points as parallel compact arrays: no per-point object.
struct MetricSeries {
    QVector<qint64> steps;
    QVector<double> values;
    QVector<qint64> tsMs;
    qsizetype size() const { return steps.size(); }
};

// Where a run's metric points go when the run does not keep them itself (the server's runs: their
// points live in MetricHistory, bounded in memory). `seq` is the event's.
class PointSink
{
public:
    virtual ~PointSink() = default;
    virtual void point(const QString &run, const QString &metric, qint64 step, double value, qint64 tsMs, qint64 seq) = 0;
};

// What a run knows of one metric whatever keeps its points.
struct SeriesInfo {
    qint64 count = 0;
    qint64 lastStep = -1;
};

struct StepState {
    QString id;
    QString name;
    QString status;       // running, completed, failed
    double progress = -1; // 0..1, or -1 when never sent
    QString message;
    QJsonValue result;
    qint64 startedMs = 0;
    qint64 endedMs = 0;
    qint64 updatedMs = 0;
};

// Everything the server derives about one run from its events. Lives on the server thread;
// copies (without the series) travel to viewers as snapshots.
class RunState
{
public:
    explicit RunState(const QString &id = QString());

    // From now on, metric points go to `sink` instead of series() (which stays empty).
    void setPointSink(PointSink *sink) { m_sink = sink; }

    void apply(const Event &event);

    const QString &id() const { return m_id; }
    QString status() const { return m_status; }
    qint64 lastSeq() const { return m_lastSeq; }
    qint64 eventCount() const { return m_eventCount; }
    qint64 errorCount() const { return m_errorCount; }
    bool isFinished() const;
    qint64 startedMs() const { return m_startedMs; }
    qint64 endedMs() const { return m_endedMs; }
    qint64 updatedMs() const { return m_updatedMs; }

    const QString &name() const { return m_name; }
    const QString &kind() const { return m_kind; }
    const QString &statusMessage() const { return m_statusMessage; }
    // completed / total (0..1) when both are known, also once the run has ended: a run that stopped
    // at 320,000 of 1,000,000 stays at 0.32. A finished run that never said how far it got is 1.
    // -1 when unknown.
    double progress() const;
    // Ended (completed, failed or cancelled) short of its total.
    bool stoppedEarly() const;
    // The following are -1 when never sent.
    double completed() const { return m_completed; }
    double total() const { return m_total; }
    double epoch() const { return m_epoch; }
    double totalEpochs() const { return m_totalEpochs; }
    double etaSeconds() const { return m_etaS; }
    qint64 currentStep() const { return m_currentStep; }
    double successRate() const;
    qint64 resultCount() const { return m_resultCount; }
    const QString &lastError() const { return m_lastError; }
    const QJsonObject &config() const { return m_config; }
    const QStringList &tags() const { return m_tags; }
    bool latest(const QString &metric, double *value) const;

    QStringList metricNames() const;
    int metricCount() const { return int(m_info.size()); }
    bool hasMetric(const QString &name) const { return m_info.find(name) != m_info.end(); }
    // Points of a metric this run keeps itself (nullptr with a point sink, or for an unknown name).
    const MetricSeries *series(const QString &name) const;
    const SeriesInfo *seriesInfo(const QString &name) const;
    const QVector<StepState> &steps() const { return m_steps; }
    bool hasStep(const QString &id) const { return m_stepIndex.contains(id); }
    const QJsonObject &progressExtra() const { return m_progressExtra; }
    const QString &output() const { return m_output; }

    // The run summary of GET /api/runs; withSteps adds the steps table, at most MaxStepsInSummary
    // of them (the rest through GET /api/runs/{run}/steps).
    QJsonObject summary(bool withSteps = false) const;
    static constexpr int MaxStepsInSummary = 1000;
    // Numbers of `progress` other than the known ones that a run keeps (progress_extra).
    static constexpr int MaxProgressExtra = 100;
    QJsonObject stepJson(const StepState &step) const;

    // The whole derived state, for a snapshot that spares replaying every event at start.
    void save(QDataStream &out) const;
    bool load(QDataStream &in);

    // Bounds what the text output keeps in memory (the newest characters survive).
    static constexpr qsizetype MaxOutputChars = 4 * 1024 * 1024;

private:
    StepState &stepFor(const QString &id, qint64 tsMs);
    void appendOutput(const QString &text);

    QString m_id;
    QString m_name;
    QString m_kind = QStringLiteral("other");
    QString m_status = QStringLiteral("pending");
    QString m_statusMessage;
    QJsonObject m_config;
    QStringList m_tags;
    double m_completed = -1;
    double m_total = -1;
    double m_epoch = -1;
    double m_totalEpochs = -1;
    double m_etaS = -1;
    qint64 m_currentStep = -1;
    QJsonObject m_progressExtra;
    QJsonObject m_summaryData;
    std::map<QString, MetricSeries> m_series;
    std::map<QString, SeriesInfo> m_info;
    PointSink *m_sink = nullptr;
    std::map<QString, double> m_latest;
    QVector<StepState> m_steps;
    QHash<QString, int> m_stepIndex;
    QString m_output;
    QString m_lastError;
    qint64 m_lastSeq = 0;
    qint64 m_eventCount = 0;
    qint64 m_errorCount = 0;
    qint64 m_resultCount = 0;
    qint64 m_resultErrors = 0;
    qint64 m_startedMs = 0;
    qint64 m_endedMs = 0;
    qint64 m_updatedMs = 0;
};

} // namespace Runwatch
