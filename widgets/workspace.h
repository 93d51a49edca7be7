#pragma once

#include "event.h"
#include "runstate.h"

#include <QHash>
#include <QObject>
#include <QSet>
#include <QStringList>

#include <map>

namespace Runwatch {

// The window's own copy of every run's derived state, built from the batches the server hands
// over (ViewerFeed). Lives on the main thread; models and charts read from it.
class Workspace : public QObject
{
    Q_OBJECT
public:
    explicit Workspace(QObject *parent = nullptr);

    // Applies a batch and tells everyone what changed, once per batch.
    void apply(const EventBatch &batch);
    void removeRun(const QString &run);

    // Where the history found at start ends: events up to `seq` were stored before the window
    // opened (at `openedMs`) and are replayed, not seen happening, so they raise no runEnded().
    // Before it is called every event counts as live.
    void setHistoryEnd(qint64 seq, qint64 openedMs);
    qint64 historyEnd() const { return m_historyEnd; }
    bool isLive(const Event &event) const { return event.seq > m_historyEnd; }
    // Running runs silent for at least `silenceMs` at `nowMs` that went silent while the window
    // was open (a run found silent in the history went quiet before anyone was watching).
    QStringList silentRuns(qint64 nowMs, qint64 silenceMs) const;

    const RunState *run(const QString &id) const;
    // Metrics as one CSV table (MetricTable: step, time, then a column per metric, a row per
    // step), as every CSV export writes them. Columns are the metric names for one run and
    // "<run>:<metric>" for several; no metrics given means every metric of the runs.
    QByteArray metricsCsv(const QStringList &runs, const QStringList &metrics = QStringList()) const;
    // Run ids in the order they first appeared.
    const QStringList &runIds() const { return m_order; }
    qint64 lastSeq() const { return m_lastSeq; }
    qint64 eventsApplied() const { return m_applied; }
    // A run's console: its token stream with log lines, errors and failures interleaved, as text.
    // The newest MaxConsoleChars are kept.
    QString console(const QString &run) const { return m_console.value(run); }
    // The text one event adds to a console (empty for events that add none).
    static QString consoleText(const Event &event);
    static constexpr qsizetype MaxConsoleChars = 2 * 1024 * 1024;

Q_SIGNALS:
    void runsAdded(const QStringList &runs);
    void runsChanged(const QSet<QString> &runs);
    void runRemoved(const QString &run);
    // A run completed or failed while the window was open (never for history replayed at start):
    // what desktop notifications are raised for.
    void runEnded(const QString &run, bool failed);
    // The batch just applied, for the event log and live text.
    void applied(const Runwatch::EventBatch &batch);

private:
    std::map<QString, RunState> m_runs;
    QStringList m_order;
    QHash<QString, QString> m_console;
    qint64 m_lastSeq = 0;
    qint64 m_applied = 0;
    qint64 m_historyEnd = 0;
    qint64 m_openedMs = 0;
};

} // namespace Runwatch
