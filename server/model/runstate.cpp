#include "runstate.h"

#include "codec.h"

#include <QJsonArray>

#include <cmath>

namespace Runwatch {

namespace {

QJsonValue numberOrNull(double value)
{
    return value < 0 ? QJsonValue() : QJsonValue(value);
}

QJsonValue metricJson(double value)
{
    if (std::isnan(value))
        return QStringLiteral("NaN");
    if (std::isinf(value))
        return value > 0 ? QStringLiteral("Infinity") : QStringLiteral("-Infinity");
    return value;
}

QJsonValue timeOrNull(qint64 ms)
{
    return ms > 0 ? QJsonValue(Codec::formatTimestamp(ms)) : QJsonValue();
}

bool truthy(const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::Bool: return value.toBool();
    case QJsonValue::String: return !value.toString().isEmpty();
    case QJsonValue::Double: return value.toDouble() != 0;
    case QJsonValue::Array:
    case QJsonValue::Object: return true;
    default: return false;
    }
}

bool resultIsError(const QJsonObject &data)
{
    if (truthy(data.value(QLatin1String("error"))))
        return true;
    for (const char *key : {"success", "ok", "passed", "correct"}) {
        const QJsonValue v = data.value(QLatin1String(key));
        if (v.isBool() && !v.toBool())
            return true;
    }
    return false;
}

} // namespace

RunState::RunState(const QString &id)
    : m_id(id)
    , m_name(id)
{
}

bool RunState::isFinished() const
{
    return m_status == QLatin1String("completed") || m_status == QLatin1String("failed")
        || m_status == QLatin1String("cancelled");
}

StepState &RunState::stepFor(const QString &id, qint64 tsMs)
{
    auto it = m_stepIndex.constFind(id);
    if (it != m_stepIndex.constEnd())
        return m_steps[*it];
    StepState step;
    step.id = id;
    step.name = id;
    step.status = QStringLiteral("pending");
    step.startedMs = tsMs;
    m_stepIndex.insert(id, int(m_steps.size()));
    m_steps.append(step);
    return m_steps.last();
}

void RunState::appendOutput(const QString &text)
{
    m_output.append(text);
    if (m_output.size() > MaxOutputChars)
        m_output.remove(0, m_output.size() - MaxOutputChars * 3 / 4);
}

void RunState::apply(const Event &event)
{
    const QJsonObject &data = event.data;
    ++m_eventCount;
    m_lastSeq = event.seq;
    m_updatedMs = event.tsMs;
    if (m_startedMs == 0)
        m_startedMs = event.tsMs;

    auto setStatus = [&](const QString &status, const QString &message) {
        m_status = status;
        m_statusMessage = message;
        if (isFinished())
            m_endedMs = event.tsMs;
        else
            m_endedMs = 0;
    };

    switch (event.kind) {
    case EventKind::RunStarted: {
        const QString name = data.value(QLatin1String("name")).toString();
        if (!name.isEmpty())
            m_name = name;
        const QString kind = data.value(QLatin1String("kind")).toString();
        if (!kind.isEmpty())
            m_kind = kind;
        if (data.value(QLatin1String("config")).isObject())
            m_config = data.value(QLatin1String("config")).toObject();
        if (data.value(QLatin1String("tags")).isArray()) {
            m_tags.clear();
            for (const QJsonValue &tag : data.value(QLatin1String("tags")).toArray())
                m_tags.append(tag.toString());
        }
        if (data.value(QLatin1String("total_steps")).isDouble())
            m_total = data.value(QLatin1String("total_steps")).toDouble();
        if (data.value(QLatin1String("total_epochs")).isDouble())
            m_totalEpochs = data.value(QLatin1String("total_epochs")).toDouble();
        m_startedMs = event.tsMs;
        setStatus(QStringLiteral("running"), QString());
        break;
    }
    case EventKind::RunStatus:
        setStatus(data.value(QLatin1String("status")).toString(),
                  data.value(QLatin1String("message")).toString());
        break;
    case EventKind::Progress:
        for (auto it = data.constBegin(); it != data.constEnd(); ++it) {
            const QString &key = it.key();
            const double v = it.value().toDouble(-1);
            if (key == QLatin1String("completed"))
                m_completed = v;
            else if (key == QLatin1String("total"))
                m_total = v;
            else if (key == QLatin1String("epoch"))
                m_epoch = v;
            else if (key == QLatin1String("total_epochs"))
                m_totalEpochs = v;
            else if (key == QLatin1String("eta_s"))
                m_etaS = v;
            else if (key == QLatin1String("step") && it.value().isDouble())
                m_currentStep = qint64(v);
            else if (it.value().isDouble() && (m_progressExtra.size() < MaxProgressExtra || m_progressExtra.contains(key)))
                m_progressExtra.insert(key, it.value());
        }
        if (!data.contains(QLatin1String("step")))
            m_currentStep = qint64(m_completed);
        if (m_status == QLatin1String("pending"))
            setStatus(QStringLiteral("running"), QString());
        break;
    case EventKind::Metric: {
        const QJsonValue stepValue = data.value(QLatin1String("step"));
        const bool hasStep = stepValue.isDouble();
        const qint64 step = hasStep ? qint64(stepValue.toDouble()) : -1;
        if (hasStep && step > m_currentStep)
            m_currentStep = step;
        Codec::forEachMetric(data, [&](const QString &name, double v) {
            SeriesInfo &info = m_info[name];
            // Without a step, a point sits at the run's current step, or one past the series'
            // previous point, whichever is further: x never goes backwards.
            qint64 x = step;
            if (!hasStep)
                x = qMax(m_currentStep, info.count == 0 ? qint64(0) : info.lastStep + 1);
            ++info.count;
            info.lastStep = x;
            if (m_sink) {
                m_sink->point(m_id, name, x, v, event.tsMs, event.seq);
            } else {
                MetricSeries &series = m_series[name];
                series.steps.append(x);
                series.values.append(v);
                series.tsMs.append(event.tsMs);
            }
            m_latest[name] = v;
        });
        if (m_status == QLatin1String("pending"))
            setStatus(QStringLiteral("running"), QString());
        break;
    }
    case EventKind::StepStarted:
    case EventKind::StepProgress:
    case EventKind::StepCompleted:
    case EventKind::StepFailed: {
        StepState &step = stepFor(event.step, event.tsMs);
        const QString name = data.value(QLatin1String("name")).toString();
        if (!name.isEmpty())
            step.name = name;
        if (data.value(QLatin1String("message")).isString())
            step.message = data.value(QLatin1String("message")).toString();
        if (data.value(QLatin1String("progress")).isDouble())
            step.progress = data.value(QLatin1String("progress")).toDouble();
        if (data.contains(QLatin1String("result")))
            step.result = data.value(QLatin1String("result"));
        step.updatedMs = event.tsMs;
        if (event.kind == EventKind::StepStarted) {
            step.status = QStringLiteral("running");
            step.startedMs = event.tsMs;
            step.endedMs = 0;
        } else if (event.kind == EventKind::StepProgress) {
            if (step.status == QLatin1String("pending"))
                step.status = QStringLiteral("running");
        } else if (event.kind == EventKind::StepCompleted) {
            step.status = QStringLiteral("completed");
            step.progress = 1.0;
            step.endedMs = event.tsMs;
        } else {
            step.status = QStringLiteral("failed");
            step.endedMs = event.tsMs;
            if (step.message.isEmpty())
                step.message = data.value(QLatin1String("error")).toString();
        }
        break;
    }
    case EventKind::Log: {
        const QString level = data.value(QLatin1String("level")).toString(QStringLiteral("info"));
        if (level == QLatin1String("error")) {
            ++m_errorCount;
            m_lastError = data.value(QLatin1String("message")).toString();
        }
        break;
    }
    case EventKind::Token:
        appendOutput(data.value(QLatin1String("text")).toString());
        break;
    case EventKind::Result:
        ++m_resultCount;
        if (resultIsError(data)) {
            ++m_errorCount;
            ++m_resultErrors;
        }
        break;
    case EventKind::ErrorEvent:
        ++m_errorCount;
        m_lastError = data.value(QLatin1String("message")).toString();
        break;
    case EventKind::RunCompleted:
        if (!data.isEmpty())
            m_summaryData = data.value(QLatin1String("summary")).isObject()
                ? data.value(QLatin1String("summary")).toObject()
                : data;
        setStatus(QStringLiteral("completed"), data.value(QLatin1String("message")).toString());
        break;
    case EventKind::RunFailed:
        setStatus(QStringLiteral("failed"), data.value(QLatin1String("message")).toString());
        if (!m_statusMessage.isEmpty())
            m_lastError = m_statusMessage;
        break;
    case EventKind::Other:
        break;
    }
}

QStringList RunState::metricNames() const
{
    QStringList names;
    names.reserve(int(m_info.size()));
    for (const auto &entry : m_info)
        names.append(entry.first);
    return names;
}

const SeriesInfo *RunState::seriesInfo(const QString &name) const
{
    auto it = m_info.find(name);
    return it == m_info.end() ? nullptr : &it->second;
}

const MetricSeries *RunState::series(const QString &name) const
{
    auto it = m_series.find(name);
    return it == m_series.end() ? nullptr : &it->second;
}

QJsonObject RunState::stepJson(const StepState &step) const
{
    QJsonObject object{{QStringLiteral("id"), step.id},
                       {QStringLiteral("name"), step.name},
                       {QStringLiteral("status"), step.status},
                       {QStringLiteral("progress"), numberOrNull(step.progress)},
                       {QStringLiteral("message"), step.message.isEmpty() ? QJsonValue() : QJsonValue(step.message)},
                       {QStringLiteral("started_at"), timeOrNull(step.startedMs)},
                       {QStringLiteral("ended_at"), timeOrNull(step.endedMs)}};
    if (step.endedMs > 0 && step.startedMs > 0)
        object.insert(QStringLiteral("duration_s"), double(step.endedMs - step.startedMs) / 1000.0);
    else
        object.insert(QStringLiteral("duration_s"), QJsonValue());
    if (!step.result.isUndefined())
        object.insert(QStringLiteral("result"), step.result);
    return object;
}

void RunState::save(QDataStream &out) const
{
    out << m_id << m_name << m_kind << m_status << m_statusMessage << m_config << m_tags << m_completed << m_total
        << m_epoch << m_totalEpochs << m_etaS << m_currentStep << m_progressExtra << m_summaryData;
    out << quint32(m_info.size());
    for (const auto &[name, info] : m_info)
        out << name << info.count << info.lastStep;
    out << quint32(m_series.size());
    for (const auto &[name, series] : m_series)
        out << name << series.steps << series.values << series.tsMs;
    out << quint32(m_latest.size());
    for (const auto &[name, value] : m_latest)
        out << name << value;
    out << quint32(m_steps.size());
    for (const StepState &step : m_steps)
        out << step.id << step.name << step.status << step.progress << step.message << step.result << step.startedMs
            << step.endedMs << step.updatedMs;
    out << m_output << m_lastError << m_lastSeq << m_eventCount << m_errorCount << m_resultCount << m_resultErrors
        << m_startedMs << m_endedMs << m_updatedMs;
}

bool RunState::load(QDataStream &in)
{
    in >> m_id >> m_name >> m_kind >> m_status >> m_statusMessage >> m_config >> m_tags >> m_completed >> m_total
        >> m_epoch >> m_totalEpochs >> m_etaS >> m_currentStep >> m_progressExtra >> m_summaryData;
    quint32 count = 0;
    in >> count;
    m_info.clear();
    for (quint32 i = 0; i < count && in.status() == QDataStream::Ok; ++i) {
        QString name;
        SeriesInfo info;
        in >> name >> info.count >> info.lastStep;
        m_info.emplace(name, info);
    }
    in >> count;
    m_series.clear();
    for (quint32 i = 0; i < count && in.status() == QDataStream::Ok; ++i) {
        QString name;
        MetricSeries series;
        in >> name >> series.steps >> series.values >> series.tsMs;
        if (series.steps.size() != series.values.size() || series.steps.size() != series.tsMs.size())
            return false;
        m_series.emplace(name, std::move(series));
    }
    in >> count;
    m_latest.clear();
    for (quint32 i = 0; i < count && in.status() == QDataStream::Ok; ++i) {
        QString name;
        double value = 0;
        in >> name >> value;
        m_latest.emplace(name, value);
    }
    in >> count;
    m_steps.clear();
    m_stepIndex.clear();
    for (quint32 i = 0; i < count && in.status() == QDataStream::Ok; ++i) {
        StepState step;
        in >> step.id >> step.name >> step.status >> step.progress >> step.message >> step.result >> step.startedMs
            >> step.endedMs >> step.updatedMs;
        m_stepIndex.insert(step.id, int(m_steps.size()));
        m_steps.append(std::move(step));
    }
    in >> m_output >> m_lastError >> m_lastSeq >> m_eventCount >> m_errorCount >> m_resultCount >> m_resultErrors
        >> m_startedMs >> m_endedMs >> m_updatedMs;
    return in.status() == QDataStream::Ok;
}

double RunState::progress() const
{
    if (m_total > 0 && m_completed >= 0)
        return qBound(0.0, m_completed / m_total, 1.0);
    if (m_status == QLatin1String("completed"))
        return 1.0;
    return -1;
}

bool RunState::stoppedEarly() const
{
    return isFinished() && m_total > 0 && m_completed >= 0 && m_completed < m_total;
}

bool RunState::latest(const QString &metric, double *value) const
{
    const auto it = m_latest.find(metric);
    if (it == m_latest.end())
        return false;
    *value = it->second;
    return true;
}

double RunState::successRate() const
{
    return m_resultCount > 0 ? double(m_resultCount - m_resultErrors) / double(m_resultCount) : -1;
}

QJsonObject RunState::summary(bool withSteps) const
{
    const double progress = this->progress();

    QJsonObject metrics;
    for (const auto &entry : m_latest)
        metrics.insert(entry.first, metricJson(entry.second));

    int stepsDone = 0, stepsFailed = 0, stepsRunning = 0;
    for (const StepState &step : m_steps) {
        if (step.status == QLatin1String("completed"))
            ++stepsDone;
        else if (step.status == QLatin1String("failed"))
            ++stepsFailed;
        else if (step.status == QLatin1String("running"))
            ++stepsRunning;
    }

    QJsonObject object{
        {QStringLiteral("id"), m_id},
        {QStringLiteral("name"), m_name},
        {QStringLiteral("kind"), m_kind},
        {QStringLiteral("status"), m_status},
        {QStringLiteral("status_message"), m_statusMessage.isEmpty() ? QJsonValue() : QJsonValue(m_statusMessage)},
        {QStringLiteral("progress"), numberOrNull(progress)},
        {QStringLiteral("stopped_early"), stoppedEarly()},
        {QStringLiteral("completed"), numberOrNull(m_completed)},
        {QStringLiteral("total"), numberOrNull(m_total)},
        {QStringLiteral("current_step"), m_currentStep < 0 ? QJsonValue() : QJsonValue(double(m_currentStep))},
        {QStringLiteral("current_epoch"), numberOrNull(m_epoch)},
        {QStringLiteral("total_epochs"), numberOrNull(m_totalEpochs)},
        {QStringLiteral("eta_s"), numberOrNull(m_etaS)},
        {QStringLiteral("metrics"), metrics},
        {QStringLiteral("started_at"), timeOrNull(m_startedMs)},
        {QStringLiteral("ended_at"), timeOrNull(m_endedMs)},
        {QStringLiteral("updated_at"), timeOrNull(m_updatedMs)},
        {QStringLiteral("event_count"), double(m_eventCount)},
        {QStringLiteral("error_count"), double(m_errorCount)},
        {QStringLiteral("result_count"), double(m_resultCount)},
        {QStringLiteral("last_error"), m_lastError.isEmpty() ? QJsonValue() : QJsonValue(m_lastError)},
        {QStringLiteral("last_seq"), double(m_lastSeq)},
        {QStringLiteral("config"), m_config},
        {QStringLiteral("tags"), QJsonArray::fromStringList(m_tags)},
        {QStringLiteral("step_counts"), QJsonObject{{QStringLiteral("total"), int(m_steps.size())},
                                                     {QStringLiteral("completed"), stepsDone},
                                                     {QStringLiteral("failed"), stepsFailed},
                                                     {QStringLiteral("running"), stepsRunning}}},
    };
    object.insert(QStringLiteral("success_rate"), m_resultCount > 0 ? QJsonValue(successRate()) : QJsonValue());
    if (!m_progressExtra.isEmpty())
        object.insert(QStringLiteral("progress_extra"), m_progressExtra);
    if (!m_summaryData.isEmpty())
        object.insert(QStringLiteral("summary"), m_summaryData);
    if (withSteps) {
        QJsonArray steps;
        for (qsizetype i = 0; i < qMin<qsizetype>(m_steps.size(), MaxStepsInSummary); ++i)
            steps.append(stepJson(m_steps.at(i)));
        object.insert(QStringLiteral("steps"), steps);
        if (m_steps.size() > MaxStepsInSummary)
            object.insert(QStringLiteral("steps_truncated"), true);
        object.insert(QStringLiteral("output_chars"), double(m_output.size()));
    }
    return object;
}

} // namespace Runwatch
