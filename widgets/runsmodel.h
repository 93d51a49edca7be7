#pragma once

#include <QAbstractTableModel>
#include <QHash>
#include <QSet>
#include <QSortFilterProxyModel>
#include <QStringList>
#include <QTimer>

namespace Runwatch {

class RunState;
class Workspace;

// One row per run: status, name, kind, progress, epoch, step, latest loss, throughput, ETA, elapsed.
class RunsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Status, Name, Kind, Progress, Epoch, Step, Loss, Throughput, Eta, Elapsed, ColumnCount };
    enum Role {
        RunIdRole = Qt::UserRole + 1,
        SortRole,
        ProgressRole,   // double 0..1, or -1 when unknown
        StatusRole,     // the status as the protocol spells it
    };

    explicit RunsModel(Workspace *workspace, QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    QString runAt(int row) const;
    int rowOf(const QString &run) const;

    // A column's title, as the header shows it.
    static QString columnTitle(int column);
    // Names of the metrics that count as throughput, in order of preference.
    static const QStringList &throughputMetrics();

private:
    void onAdded(const QStringList &runs);
    void onChanged(const QSet<QString> &runs);
    void onRemoved(const QString &run);
    double elapsedSeconds(const RunState &run) const;

    Workspace *m_workspace;
    QStringList m_rows;
    QHash<QString, int> m_rowOf;
    QTimer m_clock; // elapsed time moves on by itself
};

// Sorting on numbers, a text filter on id/name/kind/tags and a status filter.
class RunsFilterModel : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    explicit RunsFilterModel(QObject *parent = nullptr);
    void setText(const QString &text);
    // Empty: every status.
    void setStatus(const QString &status);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    QString m_text;
    QString m_status;
};

} // namespace Runwatch
