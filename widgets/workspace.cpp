#include "workspace.h"

#include "metrictable.h"

#include <QJsonObject>

namespace Runwatch {

Workspace::Workspace(QObject *parent)
    : QObject(parent)
{
}

void Workspace::apply(const EventBatch &batch)
{
    QStringList added;
    QSet<QString> changed;
    QVector<QPair<QString, bool>> ended;
    for (const Event &event : batch) {
        if (event.seq <= m_lastSeq)
            continue; // seen already
        auto [it, inserted] = m_runs.try_emplace(event.run, event.run);
        if (inserted) {
            m_order.append(event.run);
            added.append(event.run);
        }
        it->second.apply(event);
        const QString text = consoleText(event);
        if (!text.isEmpty()) {
            QString &console = m_console[event.run];
            console += text;
            if (console.size() > MaxConsoleChars)
                console.remove(0, console.size() - MaxConsoleChars * 3 / 4);
        }
        changed.insert(event.run);
        if ((event.kind == EventKind::RunCompleted || event.kind == EventKind::RunFailed) && isLive(event))
            ended.append({event.run, event.kind == EventKind::RunFailed});
        m_lastSeq = event.seq;
        ++m_applied;
    }
    if (!added.isEmpty())
        Q_EMIT runsAdded(added);
    if (!changed.isEmpty())
        Q_EMIT runsChanged(changed);
    for (const auto &[run, failed] : std::as_const(ended)) {
        if (m_runs.count(run))
            Q_EMIT runEnded(run, failed);
    }
    Q_EMIT applied(batch);
}

void Workspace::setHistoryEnd(qint64 seq, qint64 openedMs)
{
    m_historyEnd = seq;
    m_openedMs = openedMs;
}

QStringList Workspace::silentRuns(qint64 nowMs, qint64 silenceMs) const
{
    QStringList out;
    for (const QString &id : m_order) {
        const RunState &run = m_runs.at(id);
        if (run.status() != QLatin1String("running") || run.updatedMs() <= 0)
            continue;
        const qint64 silentFrom = run.updatedMs() + silenceMs;
        if (nowMs >= silentFrom && silentFrom >= m_openedMs)
            out.append(id);
    }
    return out;
}

QString Workspace::consoleText(const Event &event)
{
    auto line = [](const QString &text) { return text.endsWith(QLatin1Char('\n')) ? text : text + QLatin1Char('\n'); };
    const QJsonObject &d = event.data;
    switch (event.kind) {
    case EventKind::Token:
        return d.value(QLatin1String("text")).toString();
    case EventKind::Log: {
        const QString level = d.value(QLatin1String("level")).toString();
        return QStringLiteral("\n[%1] ").arg(level.isEmpty() ? QStringLiteral("info") : level)
            + line(d.value(QLatin1String("message")).toString());
    }
    case EventKind::ErrorEvent:
        return QStringLiteral("\n[error] ") + line(d.value(QLatin1String("message")).toString());
    case EventKind::RunFailed:
        return QStringLiteral("\n[failed] ") + line(d.value(QLatin1String("message")).toString());
    case EventKind::StepFailed:
        return QStringLiteral("\n[step %1 failed] ").arg(event.step) + line(d.value(QLatin1String("message")).toString());
    default:
        return QString();
    }
}

void Workspace::removeRun(const QString &run)
{
    m_console.remove(run);
    if (m_runs.erase(run) == 0)
        return;
    m_order.removeAll(run);
    Q_EMIT runRemoved(run);
}

QByteArray Workspace::metricsCsv(const QStringList &runs, const QStringList &metrics) const
{
    MetricTable table;
    for (const QString &id : runs) {
        const RunState *state = run(id);
        if (!state)
            continue;
        for (const QString &metric : metrics.isEmpty() ? state->metricNames() : metrics) {
            if (const MetricSeries *series = state->series(metric))
                table.addSeries(runs.size() > 1 ? id + QLatin1Char(':') + metric : metric, *series);
        }
    }
    return table.csv();
}

const RunState *Workspace::run(const QString &id) const
{
    const auto it = m_runs.find(id);
    return it == m_runs.end() ? nullptr : &it->second;
}

} // namespace Runwatch
