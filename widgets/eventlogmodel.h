#pragma once

#include "event.h"

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>

#include <deque>

namespace Runwatch {

class Workspace;

// The live event log: the newest events of every run, bounded in memory. Rows are appended a
// batch at a time (one beginInsertRows per batch), and the oldest fall off the front.
class EventLogModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Time, Run, Type, Summary, ColumnCount };
    enum Severity { Normal, Success, Warning, Failure };
    enum Role { SeverityRole = Qt::UserRole + 1, SeqRole, RunRole, TypeRole };

    explicit EventLogModel(int maxRows = 20000, QObject *parent = nullptr);

    // Where the Run column finds run names (the id is shown without one, and is the tooltip).
    void setWorkspace(const Workspace *workspace);

    void append(const EventBatch &batch);
    // Older events, read back from history, go in at the top (they are the first to fall off
    // again when new events push the log over its bound).
    void prepend(const EventBatch &older);
    // Seq of the oldest row shown (0 when empty).
    qint64 oldestSeq() const;
    void clear();
    // While paused, events wait (bounded by maxRows) and appear when resumed.
    void setPaused(bool paused);
    bool isPaused() const { return m_paused; }
    int maxRows() const { return m_maxRows; }
    int waiting() const { return int(m_waiting.size()); }

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // One line that says what an event is about ("loss=0.42  lr=3e-4  @ step 120").
    static QString summarize(const Event &event);
    static Severity severityOf(const Event &event);

private:
    // What a row shows. Its summary and severity are worked out when first asked for: at a hundred
    // thousand events a second most rows fall off the bound unseen, and working them out for every
    // one would cost the window more than everything else it does for an event.
    struct Row {
        explicit Row(const Event &event)
            : seq(event.seq), tsMs(event.tsMs), kind(event.kind), run(event.run), type(event.type), step(event.step)
        {
            // A large event (a long log line, a big result) is looked at now, so that the log
            // never holds more than a short line of it.
            if (event.envelope.isEmpty() || event.envelope.size() > 1024) {
                summary = summarize(event);
                severity = severityOf(event);
                summarized = true;
            } else {
                data = event.data;
            }
        }
        qint64 seq;
        qint64 tsMs;
        EventKind kind;
        QString run;
        QString type;
        QString step;
        mutable QJsonObject data;  // let go of once summarized
        mutable QString summary;
        mutable Severity severity = Normal;
        mutable bool summarized = false;
    };
    // Fills in the row's summary and severity if not done yet.
    const Row &described(const Row &row) const;
    void insertRows(std::deque<Row> &rows);

    const Workspace *m_workspace = nullptr;
    int m_maxRows;
    bool m_paused = false;
    std::deque<Row> m_rows;
    std::deque<Row> m_waiting;
};

// Filters the event log by run, type and text.
class EventLogFilter : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    explicit EventLogFilter(QObject *parent = nullptr);
    void setRun(const QString &run);
    // Empty: every type. "-metric,token" hides those types.
    void setType(const QString &type);
    void setText(const QString &text);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    QString m_run;
    QString m_type;
    QStringList m_hidden;
    QString m_text;
};

} // namespace Runwatch
