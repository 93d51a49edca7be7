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

    const RunState *run(const QString &id) const;
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
    // The batch just applied, for the event log and live text.
    void applied(const Runwatch::EventBatch &batch);

private:
    std::map<QString, RunState> m_runs;
    QStringList m_order;
    QHash<QString, QString> m_console;
    qint64 m_lastSeq = 0;
    qint64 m_applied = 0;
};

} // namespace Runwatch
